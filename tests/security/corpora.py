"""The test corpora: libinjection's attack collections, leadwatch's benign text, and
leadwatch's contact-form messages that paste executable script (detected by design)."""

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


def pasted_script() -> list[str]:
    return list(lines(DATA / "pasted_script.txt"))


def benign_form_parts() -> dict[str, list[str]]:
    """``benign_form()`` in the parts it was written in, each headed by a comment
    "# More messages, added <date> ...": the rules were tuned on the earlier parts, so
    the newest part is the fairest measure."""
    parts: dict[str, list[str]] = {"part 1": []}
    with (DATA / "benign_form.txt").open(encoding="utf-8") as f:
        for line in f:
            if line.startswith("# More messages, added "):
                parts[f"part {len(parts) + 1} (added {line.split()[4]})"] = []
            elif line.strip() and not line.startswith("#"):
                parts[list(parts)[-1]].append(line.rstrip("\r\n"))
    return parts
