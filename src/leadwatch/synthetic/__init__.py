"""Synthetic monitoring: scripted journeys (HTTP, a real Chromium, TLS and DNS checks)
run on a schedule from several locations, with consecutive-failure thresholds, SLOs,
Prometheus metrics in the blackbox-exporter style and a public status page."""
