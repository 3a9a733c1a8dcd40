"""Snapshots of in-memory state in the data dir, so that a restart does not forget it.

The embedded evaluator's metric history (SLO budgets, burn rates, look-back alerts)
and alert states, and the Technical Operations page's samples, live in memory. In standalone mode a
:class:`SnapshotService` loads each from ``data_dir/history/<name>.snap`` at start-up,
before the first sample, and writes it back every
``storage.history_snapshot_interval_seconds`` and once more after the samplers have
stopped; a crash loses at most one interval.

A file is written atomically (temporary file, fsync, rename, fsync of the directory):
a failed write leaves the previous snapshot as it was. Its layout, little-endian::

    MAGIC | u32 CRC-32 of the rest | zlib( u32 n | n bytes of JSON header | arrays )

The header names the snapshot, its owner's format ``version``, the owner's ``meta``
and each array's typecode and length; the arrays' bytes follow one after another
(numbers stay packed: a 30-day SLO history is a few hundred kilobytes). A file that
is damaged, cut short, of another version or of another owner is ignored with one
warning, never an error at start-up: the history then starts empty, as it used to.
"""

from __future__ import annotations

import struct
import sys
import time
import zlib
from array import array
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

import orjson
import structlog

from leadwatch.background import PeriodicService
from leadwatch.store.files import write_atomic

log = structlog.get_logger(__name__)

MAGIC = b"LWSNAP1\n"  # the container's own version is in its magic
SUFFIX = ".snap"
# Only fixed-size numbers: "d" float64, "q" int64 (same size on every platform).
TYPECODES = frozenset({"d", "q"})
_U32 = struct.Struct("<I")


@dataclass
class Snapshot:
    """What an owner keeps: JSON-able ``meta`` and packed number ``arrays``."""

    meta: dict[str, Any]
    arrays: list[array[Any]]


class Snapshotted(Protocol):
    """State a :class:`SnapshotService` keeps across restarts."""

    # Bumped whenever ``meta`` or ``arrays`` change meaning: older files are then ignored.
    snapshot_version: ClassVar[int]

    def dump(self) -> Snapshot:
        """A consistent copy of the state, safe to take while it is being updated."""
        ...

    def restore(self, snapshot: Snapshot, now: float) -> int:
        """Replace the state with the snapshot's, dropping what is older than the owner
        keeps at ``now``; returns how many stored series it no longer keeps (the
        catalogue or watched set changed). Raises ValueError, KeyError, TypeError or
        IndexError, without changing anything, when the snapshot does not fit."""
        ...


class Unusable(ValueError):
    """A snapshot file that cannot be read as the expected snapshot."""


def encode(name: str, version: int, snapshot: Snapshot) -> bytes:
    header = orjson.dumps({
        "name": name,
        "version": version,
        "meta": snapshot.meta,
        "arrays": [[a.typecode, len(a)] for a in snapshot.arrays],
    })
    parts = [_U32.pack(len(header)), header]
    for numbers in snapshot.arrays:
        if numbers.typecode not in TYPECODES:
            raise ValueError(f"{name}: array typecode {numbers.typecode!r} is not one of {sorted(TYPECODES)}")
        parts.append(_little_endian(numbers).tobytes())
    # Level 1: counters' running totals and regular timestamps compress well already,
    # and the write must stay short on the 2-core boxes leadwatch runs on.
    body = zlib.compress(b"".join(parts), 1)
    return MAGIC + _U32.pack(zlib.crc32(body)) + body


def decode(data: bytes, name: str, version: int) -> Snapshot:
    """The snapshot in ``data``; raises :class:`Unusable` saying why it cannot be used."""
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + _U32.size:
        raise Unusable("not a leadwatch snapshot file")
    (crc,) = _U32.unpack_from(data, len(MAGIC))
    body = data[len(MAGIC) + _U32.size:]
    if zlib.crc32(body) != crc:
        raise Unusable("damaged or cut short (checksum does not match)")
    try:
        raw = zlib.decompress(body)
        (size,) = _U32.unpack_from(raw)
        header = orjson.loads(raw[_U32.size:_U32.size + size])
    except (zlib.error, struct.error, orjson.JSONDecodeError) as exc:
        raise Unusable(f"unreadable: {exc}") from None
    if not isinstance(header, dict) or header.get("name") != name:
        raise Unusable(f"written for {header.get('name') if isinstance(header, dict) else None!r}, not {name!r}")
    if header.get("version") != version:
        raise Unusable(f"format version {header.get('version')!r}; this leadwatch reads version {version}")
    arrays: list[array[Any]] = []
    offset = _U32.size + size
    try:
        for typecode, length in header["arrays"]:
            if typecode not in TYPECODES or not isinstance(length, int) or length < 0:
                raise Unusable(f"bad array {typecode!r} x {length!r}")
            numbers = array(typecode)
            chunk = raw[offset:offset + numbers.itemsize * length]
            if len(chunk) != numbers.itemsize * length:
                raise Unusable("cut short (arrays end early)")
            numbers.frombytes(chunk)
            arrays.append(_little_endian(numbers))
            offset += len(chunk)
        meta = header["meta"]
    except (KeyError, TypeError, ValueError) as exc:
        raise Unusable(f"bad header: {exc}") from None
    if offset != len(raw) or not isinstance(meta, dict):
        raise Unusable("bad layout (trailing bytes or no meta)")
    return Snapshot(meta, arrays)


def _little_endian(numbers: array[Any]) -> array[Any]:
    if sys.byteorder == "little":
        return numbers
    swapped = array(numbers.typecode, numbers)
    swapped.byteswap()
    return swapped


class SnapshotService(PeriodicService):
    """Loads each part's snapshot at start, saves every ``interval`` and at close.

    A Runtime service placed first in start order (loaded before any sampler's first
    sample) and therefore last in close order (saved after the samplers stopped)."""

    name = "history-snapshots"
    failure_event = "history_snapshot_failed"
    failure_level = "warning"  # a full disk now and then; the next round tries again
    tick_on_close = True
    join_timeout = 30

    def __init__(self, directory: Path, parts: Mapping[str, Snapshotted], *, interval: float,
                 clock: Callable[[], float] = time.time):
        super().__init__()
        self.directory = directory
        self.parts = dict(parts)
        self.interval = interval
        self._clock = clock

    def path(self, name: str) -> Path:
        return self.directory / f"{name}{SUFFIX}"

    def load(self) -> None:
        now = self._clock()
        for name, part in self.parts.items():
            path = self.path(name)
            try:
                data = path.read_bytes()
                dropped = part.restore(decode(data, name, part.snapshot_version), now)
            except FileNotFoundError:
                continue  # the first start, or a data dir without one yet
            except (OSError, Unusable, KeyError, TypeError, ValueError, IndexError) as exc:
                log.warning("history_snapshot_ignored", snapshot=name, path=str(path),
                            reason=f"{type(exc).__name__}: {exc}")
                continue
            if dropped:
                log.warning("history_snapshot_partly_used", snapshot=name, path=str(path), dropped_series=dropped,
                            reason="series this version no longer keeps (catalogue or watched metrics changed)")
            log.info("history_snapshot_loaded", snapshot=name, bytes=len(data))

    def save(self) -> None:
        for name, part in self.parts.items():
            write_atomic(self.path(name), encode(name, part.snapshot_version, part.dump()))

    def start(self) -> None:
        self.load()
        super().start()

    def tick(self) -> None:
        self.save()
