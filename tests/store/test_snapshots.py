"""Snapshot files: the packed format, the atomic write, and files that are ignored
(damaged, cut short, of another version or owner) with one warning, never a crash."""

from __future__ import annotations

import os
from array import array
from pathlib import Path
from typing import Any, ClassVar

import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st
from structlog.testing import capture_logs

from leadwatch.store import files, snapshots
from leadwatch.store.files import write_atomic
from leadwatch.store.snapshots import Snapshot, SnapshotService, Unusable, decode, encode


@pytest.fixture(autouse=True)
def fresh_logger(monkeypatch: pytest.MonkeyPatch) -> None:
    """The module's logger anew: capture_logs cannot see a logger that an earlier test
    used after configuring structlog to cache loggers on first use, as the CLI does."""
    monkeypatch.setattr(snapshots, "log", structlog.get_logger(snapshots.__name__))


class Part:
    """A minimal snapshotted state: what it was given, and what it dumps."""

    snapshot_version: ClassVar[int] = 3

    def __init__(self, meta: dict[str, Any] | None = None, numbers: list[float] | None = None):
        self.state = Snapshot(meta or {"kind": "test"}, [array("d", numbers or [1.5, 2.5]), array("q", [7])])
        self.restored: list[tuple[Snapshot, float]] = []

    def dump(self) -> Snapshot:
        return self.state

    def restore(self, snapshot: Snapshot, now: float) -> int:
        self.restored.append((snapshot, now))
        return 0


finite = st.floats(allow_nan=False)


@given(st.dictionaries(st.text(max_size=5), st.integers(-(2**63), 2**63 - 1) | st.text(max_size=5), max_size=4),
       st.lists(st.lists(finite, max_size=30), max_size=4),
       st.lists(st.integers(-(2**63), 2**63 - 1), max_size=10))
def test_decode_gives_back_what_was_encoded(meta: dict[str, Any], floats: list[list[float]], ints: list[int]) -> None:
    arrays = [array("d", f) for f in floats] + [array("q", ints)]
    snapshot = decode(encode("part", 2, Snapshot(meta, arrays)), "part", 2)
    assert snapshot.meta == meta
    assert snapshot.arrays == arrays


def test_a_file_of_another_version_or_owner_is_refused() -> None:
    data = encode("part", 2, Snapshot({}, []))
    with pytest.raises(Unusable, match="version 2; this leadwatch reads version 3"):
        decode(data, "part", 3)
    with pytest.raises(Unusable, match="written for 'part', not 'other'"):
        decode(data, "other", 2)


@given(st.data())
def test_any_cut_or_flipped_byte_is_refused(data: st.DataObject) -> None:
    encoded = encode("part", 1, Snapshot({"a": 1}, [array("d", range(50))]))
    cut = data.draw(st.integers(0, len(encoded) - 1))
    with pytest.raises(Unusable):
        decode(encoded[:cut], "part", 1)
    position = data.draw(st.integers(0, len(encoded) - 1))
    flipped = bytearray(encoded)
    flipped[position] ^= data.draw(st.integers(1, 255))
    with pytest.raises(Unusable):
        decode(bytes(flipped), "part", 1)


def test_the_service_saves_on_close_and_loads_before_it_starts(tmp_path: Path) -> None:
    part = Part({"kept": True}, [3.0, 4.0])
    service = SnapshotService(tmp_path / "history", {"part": part}, interval=3600, clock=lambda: 1234.0)
    service.start()
    assert part.restored == []  # nothing saved yet: the first start loads nothing
    service.close()  # the last save happens at close
    assert (tmp_path / "history" / "part.snap").is_file()
    fresh = Part()
    SnapshotService(tmp_path / "history", {"part": fresh}, interval=3600, clock=lambda: 5678.0).load()
    [(snapshot, now)] = fresh.restored
    assert snapshot.meta == {"kept": True} and list(snapshot.arrays[0]) == [3.0, 4.0] and now == 5678.0


def _damaged(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 0xFF])


@pytest.mark.parametrize(
    ("spoil", "reason"),
    [
        (lambda data: data[: len(data) // 2], "checksum"),  # truncated (a crash mid-copy, a full disk)
        (_damaged, "checksum"),
        (lambda data: b"{}", "not a leadwatch snapshot"),
        (lambda _: encode("part", 99, Snapshot({}, [])), "version 99"),
        (lambda _: encode("other", 3, Snapshot({}, [])), "written for 'other'"),
    ],
    ids=["truncated", "corrupt", "foreign", "newer-version", "other-owner"],
)
def test_an_unusable_file_is_ignored_with_one_warning(tmp_path: Path, spoil: Any, reason: str) -> None:
    directory = tmp_path / "history"
    SnapshotService(directory, {"part": Part()}, interval=3600).save()
    path = directory / "part.snap"
    path.write_bytes(spoil(path.read_bytes()))
    part = Part()
    with capture_logs() as logs:
        SnapshotService(directory, {"part": part}, interval=3600).load()
    assert part.restored == []
    warnings = [entry for entry in logs if entry["log_level"] == "warning"]
    assert [w["event"] for w in warnings] == ["history_snapshot_ignored"]
    assert reason in warnings[0]["reason"] and warnings[0]["snapshot"] == "part"


def test_a_snapshot_that_does_not_fit_its_owner_is_ignored_with_one_warning(tmp_path: Path) -> None:
    class Strict(Part):
        def restore(self, snapshot: Snapshot, now: float) -> int:
            raise KeyError("inputs")

    directory = tmp_path / "history"
    SnapshotService(directory, {"part": Part()}, interval=3600).save()
    with capture_logs() as logs:
        SnapshotService(directory, {"part": Strict()}, interval=3600).load()
    assert [(e["event"], e["log_level"]) for e in logs] == [("history_snapshot_ignored", "warning")]


def test_a_failed_write_leaves_the_previous_snapshot_intact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "history" / "part.snap"
    write_atomic(path, b"previous")

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        write_atomic(path, b"next, never complete")
    assert path.read_bytes() == b"previous"
    assert os.listdir(path.parent) == ["part.snap"]  # no partial file left behind


def test_a_failed_periodic_save_is_logged_and_the_service_goes_on(tmp_path: Path) -> None:
    (tmp_path / "history").write_text("a file where the directory should be")
    service = SnapshotService(tmp_path / "history", {"part": Part()}, interval=3600)
    with capture_logs() as logs:
        service.close()  # the save at close fails: logged, not raised
    assert [(e["event"], e["log_level"]) for e in logs] == [("history_snapshot_failed", "warning")]


def test_a_snapshot_partly_kept_says_so_in_one_warning(tmp_path: Path) -> None:
    class Narrower(Part):
        def restore(self, snapshot: Snapshot, now: float) -> int:
            super().restore(snapshot, now)
            return 2  # e.g. two series of an alert the catalogue no longer has

    directory = tmp_path / "history"
    SnapshotService(directory, {"part": Part()}, interval=3600).save()
    part = Narrower()
    with capture_logs() as logs:
        SnapshotService(directory, {"part": part}, interval=3600).load()
    assert len(part.restored) == 1
    warnings = [e for e in logs if e["log_level"] == "warning"]
    assert [(w["event"], w["dropped_series"]) for w in warnings] == [("history_snapshot_partly_used", 2)]
