"""The test corpora: libinjection's attack collections and leadwatch's benign text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data" / "security"
LIBINJECTION = DATA / "libinjection"


def lines(path: Path) -> Iterator[str]:
    """Inputs of a corpus file: one a line, blank lines and ``#`` comments skipped."""
    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if line and not line.startswith("#"):
                yield line


def attacks(kind: str) -> list[str]:
    return [line for path in sorted(LIBINJECTION.glob(f"{kind}-*.txt")) for line in lines(path)]


def benign_form() -> list[str]:
    return list(lines(DATA / "benign_form.txt"))
