"""Following files: restarts and rotation (rename, copytruncate) neither lose nor
repeat a line."""

from __future__ import annotations

import gzip
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from leadwatch.logs.parse import Format
from leadwatch.logs.pipeline import BatchResult
from leadwatch.logs.sources import FileReader, Follower, OffsetStore
from leadwatch.logs.tail import Followed, Tailer


class Collecting:
    """A LineWriter that keeps what it is given, and can be told to fail."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.fail = False

    def process(self, lines: Sequence[str], *, site_id: str, fmt: Format = "auto") -> BatchResult:
        if self.fail:
            raise RuntimeError("sink down")
        self.lines += lines
        return BatchResult(lines=len(lines))


def write(path: Path, start: int, end: int, *, newline_at_end: bool = True) -> None:
    with path.open("a") as fh:
        text = "\n".join(f"line {i}" for i in range(start, end))
        fh.write(text + ("\n" if newline_at_end else ""))


def expected(start: int, end: int) -> list[str]:
    return [f"line {i}" for i in range(start, end)]


def drain(follower: Follower, sink: Collecting) -> None:
    while lines := follower.read():
        sink.process(lines, site_id="s")
        follower.commit()


def followed(log: Path, offsets: OffsetStore, lines: int, max_lines: int = 2000) -> tuple[Follower, Collecting]:
    """A follower that has read and committed the first ``lines`` lines of a new log."""
    write(log, 0, lines)
    sink = Collecting()
    follower = Follower(log, offsets, max_lines=max_lines)
    drain(follower, sink)
    return follower, sink


@pytest.fixture
def offsets(tmp_path: Path) -> OffsetStore:
    return OffsetStore(tmp_path / "offsets")


def test_restart_resumes_at_the_committed_offset(tmp_path: Path, offsets: OffsetStore) -> None:
    log = tmp_path / "access.log"
    first, sink = followed(log, offsets, 100, max_lines=7)
    write(log, 100, 150, newline_at_end=False)  # the writer is mid-line
    drain(first, sink)
    first.close()  # stop
    with log.open("a") as fh:
        fh.write("\n")
    write(log, 150, 200)
    second = Follower(log, offsets, max_lines=7)  # restart
    drain(second, sink)
    assert sink.lines == expected(0, 200)


def test_lines_read_but_not_committed_are_read_again(tmp_path: Path, offsets: OffsetStore) -> None:
    log = tmp_path / "access.log"
    write(log, 0, 10)
    follower = Follower(log, offsets, max_lines=4)
    assert follower.read() == expected(0, 4)
    follower.commit()
    assert follower.read() == expected(4, 8)  # ... and the process dies before commit
    follower.close()
    assert Follower(log, offsets, max_lines=100).read() == expected(4, 10)


def test_rename_rotation_is_followed(tmp_path: Path, offsets: OffsetStore) -> None:
    log = tmp_path / "access.log"
    follower, sink = followed(log, offsets, 50, max_lines=13)
    write(log, 50, 60)
    log.rename(tmp_path / "access.log.1")  # logrotate renames...
    # ...nginx still writes the old file (its last line unterminated)...
    write(tmp_path / "access.log.1", 60, 70, newline_at_end=False)
    write(log, 70, 100)  # ...until it reopens
    drain(follower, sink)
    assert sink.lines == expected(0, 100)


def test_rotation_while_stopped_finishes_the_old_file_first(tmp_path: Path, offsets: OffsetStore) -> None:
    log = tmp_path / "access.log"
    follower, sink = followed(log, offsets, 30)
    follower.close()  # stopped
    write(log, 30, 40)
    log.rename(tmp_path / "access.log.1")
    write(log, 40, 55)
    restarted = Follower(log, offsets)
    drain(restarted, sink)
    assert sink.lines == expected(0, 55)
    restarted.close()
    write(log, 55, 60)
    again = Follower(log, offsets)
    drain(again, sink)
    assert sink.lines == expected(0, 60)


def test_copytruncate_rotation_is_followed(tmp_path: Path, offsets: OffsetStore) -> None:
    log = tmp_path / "access.log"
    follower, sink = followed(log, offsets, 40)
    (tmp_path / "access.log.1").write_bytes(log.read_bytes())  # copy...
    os.truncate(log, 0)  # ...truncate
    write(log, 40, 45)
    drain(follower, sink)
    assert sink.lines == expected(0, 45)


def test_truncated_while_stopped_restarts_at_zero(tmp_path: Path, offsets: OffsetStore) -> None:
    log = tmp_path / "access.log"
    follower, sink = followed(log, offsets, 40)
    follower.close()
    os.truncate(log, 0)
    write(log, 40, 42)
    drain(Follower(log, offsets), sink)
    assert sink.lines == expected(0, 42)


def test_tailer_retries_a_failed_batch_without_losing_or_repeating(tmp_path: Path, offsets: OffsetStore) -> None:
    log = tmp_path / "access.log"
    write(log, 0, 20)
    sink = Collecting()
    tailer = Tailer(sink, [Followed(log, "s", "auto")], offsets, batch_lines=6, poll_interval=0.01)
    assert tailer.run_once() == 20
    write(log, 20, 30)
    sink.fail = True
    with pytest.raises(RuntimeError):
        tailer.run_once()
    sink.fail = False
    assert tailer.run_once() == 10
    assert sink.lines == expected(0, 30)


def test_tailer_thread_stops_cleanly(tmp_path: Path, offsets: OffsetStore) -> None:
    log = tmp_path / "access.log"
    write(log, 0, 5)
    sink = Collecting()
    tailer = Tailer(sink, [Followed(log, "s", "auto")], offsets, poll_interval=0.01)
    stop = threading.Event()
    thread = threading.Thread(target=tailer.run, args=(stop,))
    thread.start()
    write(log, 5, 10)
    for _ in range(3000):
        if len(sink.lines) == 10:
            break
        stop.wait(0.01)
    stop.set()
    thread.join(30)
    assert sink.lines == expected(0, 10)


def test_gzip_and_plain_files_read_the_same(tmp_path: Path) -> None:
    plain = tmp_path / "a.log"
    write(plain, 0, 1000)
    packed = tmp_path / "a.log.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    for path in (plain, packed):
        reader = FileReader(path)
        lines = [line for batch in reader.batches(64) for line in batch]
        assert lines == expected(0, 1000)


def test_invalid_utf8_is_kept_visibly(tmp_path: Path, offsets: OffsetStore) -> None:
    log = tmp_path / "x.log"
    log.write_bytes(b"ok\r\nbad \xff\xfe\n")
    assert Follower(log, offsets).read() == ["ok", "bad \\xff\\xfe"]
