"""Sources of log lines: whole files (gzip too), stdin, and files followed as they
grow, across rotation, with their offsets remembered in the data dir.

Following: a :class:`Follower` hands out the complete lines written since the last
call; the caller writes them and then calls ``commit()``, which persists the
position after them (one small JSON file per followed path, written atomically).
A restart resumes at the committed position, so a line is neither lost nor
repeated. Rotation is recognised the way ``tail -F`` does it:

- rename (logrotate's default, ``create``): the path names a new file (another
  inode). The old file is read to its end first (the writer may still be
  appending), then the new one from the start. After a restart, the old file is
  found again by its inode among the path's siblings (``access.log.1``).
- copytruncate: the same inode, now shorter than the position: start again at 0.
  Lines written between logrotate's copy and its truncate are lost; that is in
  the nature of copytruncate (prefer rename rotation).
"""

from __future__ import annotations

import gzip
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

import orjson
import structlog

from leadwatch.store.files import write_atomic

log = structlog.get_logger(__name__)

READ_CHUNK = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"


def decode(raw: bytes) -> str:
    """One line of bytes as text: UTF-8, invalid bytes kept visibly as ``\\xNN``."""
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return raw.decode("utf-8", "backslashreplace")


def is_gzip(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(2) == GZIP_MAGIC


def batches(stream: IO[bytes], size: int) -> Iterator[list[str]]:
    """Lines of a byte stream in lists of up to ``size``; a last line without a newline
    counts (the file is complete)."""
    batch: list[str] = []
    for raw in stream:
        batch.append(decode(raw.rstrip(b"\n")))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


@dataclass
class FileReader:
    """A whole file (plain or gzip) read once; ``position()`` is the compressed bytes
    read so far, for a progress bar over ``size``."""

    path: Path

    @property
    def size(self) -> int:
        return self.path.stat().st_size

    def batches(self, size: int) -> Iterator[list[str]]:
        with self.path.open("rb") as raw:
            self._raw = raw
            stream: IO[bytes] = gzip.GzipFile(fileobj=raw) if is_gzip(self.path) else raw
            yield from batches(stream, size)

    def position(self) -> int:
        raw = getattr(self, "_raw", None)
        return raw.tell() if raw is not None and not raw.closed else 0


class OffsetStore:
    """Committed positions, one JSON file per followed path under ``directory``."""

    def __init__(self, directory: Path):
        self.directory = directory

    def _file(self, path: Path) -> Path:
        digest = hashlib.sha256(str(path).encode()).hexdigest()[:24]
        return self.directory / f"{digest}.json"

    def load(self, path: Path) -> dict[str, int] | None:
        try:
            data = orjson.loads(self._file(path).read_bytes())
        except FileNotFoundError:
            return None
        except orjson.JSONDecodeError:
            log.warning("log_offset_unreadable", path=str(path))
            return None
        return {k: int(data[k]) for k in ("dev", "inode", "offset")}

    def save(self, path: Path, dev: int, inode: int, offset: int) -> None:
        body = {"path": str(path), "dev": dev, "inode": inode, "offset": offset}
        write_atomic(self._file(path), orjson.dumps(body))


class Follower:
    """Follows one path: ``read()`` returns new complete lines, ``commit()`` records
    that they were written."""

    def __init__(self, path: Path, offsets: OffsetStore, max_lines: int = 2000):
        self.path = path
        self.offsets = offsets
        self.max_lines = max_lines
        self._fh: BinaryIO | None = None
        self._ident: tuple[int, int] = (0, 0)  # (device, inode) of the open file
        self._pos = 0  # file position after the last line handed out
        self._committed: int | None = None
        self._rest = b""  # bytes after the last newline (an incomplete line)

    def read(self) -> list[str]:
        """Complete lines appended since the last call (at most ``max_lines``)."""
        if self._fh is None and not self._open():
            return []
        lines = self._read_lines()
        if lines:
            return lines
        lines = self._check_rotation()
        return lines + self._read_lines()

    def commit(self) -> None:
        """Persist the position after the lines ``read()`` returned."""
        if self._fh is None or self._committed == self._pos:
            return
        self.offsets.save(self.path, *self._ident, self._pos)
        self._committed = self._pos

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def _open(self) -> bool:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return False
        stored = self.offsets.load(self.path)
        if stored and (stored["dev"], stored["inode"]) != (st.st_dev, st.st_ino):
            rotated = self._find_rotated(stored["dev"], stored["inode"])
            if rotated is not None and rotated.stat().st_size >= stored["offset"]:
                log.info("log_resuming_rotated_file", path=str(self.path), rotated=str(rotated))
                self._start(rotated.open("rb"), stored["offset"])
                return True
            log.warning(
                "log_rotated_file_not_found",
                path=str(self.path),
                hint="lines written to the old file after the last commit may be missing",
            )
            stored = None
        fh = self.path.open("rb")
        if os.fstat(fh.fileno()).st_ino != st.st_ino:  # rotated between stat and open
            fh.close()
            return False
        offset = stored["offset"] if stored else 0
        if offset > st.st_size:  # truncated while we were away
            offset = 0
        self._start(fh, offset)
        return True

    def _start(self, fh: BinaryIO, offset: int) -> None:
        st = os.fstat(fh.fileno())
        fh.seek(offset)
        self._fh, self._ident, self._pos, self._rest = fh, (st.st_dev, st.st_ino), offset, b""
        self._committed = offset

    def _find_rotated(self, dev: int, inode: int) -> Path | None:
        for sibling in self.path.parent.glob(self.path.name + "*"):
            try:
                st = sibling.stat()
            except FileNotFoundError:
                continue
            if (st.st_dev, st.st_ino) == (dev, inode) and sibling != self.path:
                return sibling
        return None

    def _read_lines(self) -> list[str]:
        # Invariant: ``_rest`` holds the bytes read from file position ``_pos`` on.
        assert self._fh is not None
        lines: list[str] = []
        while len(lines) < self.max_lines:
            chunk = self._fh.read(READ_CHUNK)
            if not chunk:
                break
            data = self._rest + chunk
            cut = data.rfind(b"\n")
            if cut < 0:
                self._rest = data
                continue
            parts = data[:cut].split(b"\n")
            room = self.max_lines - len(lines)
            if len(parts) > room:
                # Hand out ``room`` lines; the rest is read again after this batch.
                parts = parts[:room]
                self._pos += sum(len(p) + 1 for p in parts)
                self._fh.seek(self._pos)
                self._rest = b""
                return lines + [decode(p) for p in parts]
            lines += [decode(p) for p in parts]
            self._pos += cut + 1
            self._rest = data[cut + 1 :]
        return lines

    def _check_rotation(self) -> list[str]:
        """Switch files after a rename, rewind after a truncation; returns the old file's
        unterminated last line, which is complete once the file is rotated away."""
        assert self._fh is not None
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return []  # renamed away, the new file not created yet: keep reading the old
        if (st.st_dev, st.st_ino) != self._ident:
            try:
                fresh = self.path.open("rb")
            except FileNotFoundError:
                return []
            tail = [decode(self._rest)] if self._rest else []
            log.info("log_rotation_followed", path=str(self.path), kind="rename")
            self._fh.close()
            self._start(fresh, 0)
            self._committed = None  # the new file's position must be saved
            return tail
        if st.st_size < self._fh.tell():
            log.info("log_rotation_followed", path=str(self.path), kind="copytruncate")
            self._fh.seek(0)
            self._pos, self._rest, self._committed = 0, b"", None
        return []
