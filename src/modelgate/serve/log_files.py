"""The prediction log's files under one directory: their names, the open one, rotation and
recovery (the module docstring of `prediction_log` says how a file lives and dies).

Every operation raises OSError; the writer thread counts what it costs in rows.
"""

from __future__ import annotations

import logging
import os
import re
import time
from datetime import UTC, datetime
from pathlib import Path

logger = logging.getLogger(__name__)

PREFIX, SUFFIX, OPEN = "predictions-", ".jsonl", ".open"
LABEL = "%Y%m%dT%H%M%S%fZ"  # the first row's time in a name: compact ISO 8601, UTC, to the µs
# A closed file's name; readers may also meet it compressed, with `.gz` after it.
NAME = re.compile(
    rf"{re.escape(PREFIX)}(?P<first>\d{{8}}T\d{{12}}Z)-(?P<pid>\d+)-(?P<seq>\d{{6,}})"
    rf"{re.escape(SUFFIX)}",
    re.ASCII,
)


def file_label(seconds: float) -> str:
    """The time part of a file's name, for a row scored `seconds` after the epoch."""
    return datetime.fromtimestamp(seconds, UTC).strftime(LABEL)


class LogFiles:
    """The directory's files: the open one, rotation and recovery. Raises OSError."""

    def __init__(self, directory: Path, max_bytes: int, max_seconds: float):
        self.directory = directory
        self.max_bytes = max_bytes
        self.max_seconds = max_seconds
        self.pid = os.getpid()
        self.seq = 0
        self._fd: int | None = None
        self._path = Path()
        self._size = 0  # bytes of whole lines in the open file
        self._lines = 0
        self._opened = 0.0
        # Running totals; `lost`: lines written to a file deleted before it was closed.
        self.lines = self.bytes = self.rotations = self.lost = 0

    def write(self, groups: list[tuple[float, list[bytes]]]) -> None:
        """Append each group's lines; its time (epoch seconds) names a file opened for them."""
        pending: list[bytes] = []
        size = self._size if self._fd is not None else 0  # the open file's, with `pending`
        for when, lines in groups:
            for line in lines:
                if self._fd is not None and size > 0 and size + len(line) > self.max_bytes:
                    if pending:
                        self._append(pending)
                        pending = []
                    self.close()
                if self._fd is None:
                    self._open(file_label(when))
                    size = 0
                pending.append(line)
                size += len(line)
        if pending:
            self._append(pending)

    def check(self) -> None:
        """Forget the open file if it was deleted (or its directory was): its lines are lost."""
        if self._fd is not None and os.fstat(self._fd).st_nlink == 0:
            os.close(self._fd)
            self._fd = None
            self.lost += self._lines

    def rotate_if_old(self, now: float) -> None:
        if self._fd is not None and now - self._opened >= self.max_seconds:
            self.close()

    def close(self) -> None:
        """Close the open file, fsync'd, under its final name (an empty one is removed)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        opened = self._path.with_name(self._path.name + OPEN)
        if self._lines == 0:
            opened.unlink(missing_ok=True)
            return
        try:
            opened.rename(self._path)
        except OSError:
            self.lost += self._lines
            raise
        self.rotations += 1

    def recover(self) -> None:
        """Make the directory; close the files a dead process left open, cut after their last
        whole line."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            stale = sorted(self.directory.glob(f"{PREFIX}*{SUFFIX}{OPEN}"))
        except OSError as exc:
            logger.warning("prediction log: %s; rows are dropped until it can write", exc)
            return
        for path in stale:
            try:
                _close_stale(path)
            except OSError as exc:
                logger.warning("prediction log: cannot close %s: %s", path, exc)
        if stale:
            logger.info("prediction log: closed %d file(s) an earlier process left", len(stale))

    def _open(self, label: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC
        seq = self.seq
        while True:
            seq += 1
            path = self.directory / f"{PREFIX}{label}-{self.pid}-{seq:06d}{SUFFIX}"
            if path.exists():
                continue
            try:
                # Owner and group only: a shipper in the group may read, nobody else.
                self._fd = os.open(path.with_name(path.name + OPEN), flags, 0o640)
            except FileExistsError:
                continue
            break
        self.seq = seq
        self._path, self._size, self._lines, self._opened = path, 0, 0, time.monotonic()

    def _append(self, lines: list[bytes]) -> None:
        """Write whole lines or none: after a short or failed write the file is cut back."""
        assert self._fd is not None
        data = b"".join(lines)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError:
            self._cut()
            raise
        self._size += len(data)
        self._lines += len(lines)
        self.lines += len(lines)
        self.bytes += len(data)

    def _cut(self) -> None:
        assert self._fd is not None
        try:
            os.ftruncate(self._fd, self._size)
        except OSError:  # left `.open`: the next process to start here cuts it
            os.close(self._fd)
            self._fd = None


def _close_stale(path: Path) -> None:
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end == 0:
        path.unlink()
        return
    if end < len(data):
        os.truncate(path, end)
    path.rename(path.with_name(path.name.removesuffix(OPEN)))
