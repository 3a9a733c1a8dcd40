"""Benchmarks: ``make bench`` (``python -m bench [NAME...]``).

Each benchmark module has ``run() -> list[dict]`` (one row per measured case, with
a ``target`` and ``meets`` where the issue names one). Results are printed as a
table and written as JSON under bench/results/ (not committed).
"""
