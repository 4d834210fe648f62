"""What `tiergate serve` recorded: the measurements of its gated requests, added up by hour,
route and tier in a small JSON file under TIERGATE_STATE_DIR, which `tiergate costs` reads.

A file rather than memory because the report is another process (the command), run while
the server runs or after it stopped; and sums rather than lines so it stays small. The
server merges what it collected into the file at most every `flush_s` seconds, in a
thread of its own (a read and an atomic replace of the whole file, never in a request),
dropping hours older than RETENTION_MS so the file stays small, and once more at exit. Two
servers sharing a state directory can lose each
other's last few seconds (read, merge, replace is not locked): give each its own.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ..errors import ConfigError
from ..jsontext import read_json
from ..settings import Settings
from .costmeter import Measured
from .totals import Totals

__all__ = [
    "FILE_NAME",
    "RETENTION_MS",
    "FileRecorder",
    "MemoryRecorder",
    "read_recorded",
    "recorded_path",
]

FILE_NAME = "measurements.json"
# Hours older than this are dropped as the file is rewritten: it would otherwise grow
# forever, and it is read and rewritten whole. 35 days: a month's report, and some slack.
RETENTION_MS = 35 * 86_400_000

log = logging.getLogger("tiergate")


def recorded_path(settings: Settings) -> Path:
    return Path(settings.state_dir).expanduser() / FILE_NAME


def read_recorded(path: Path) -> Totals:
    """What the file holds; empty when there is none. A damaged file (not UTF-8, not JSON,
    not what to_json wrote, a number out of range) is a ConfigError."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return Totals()
    except OSError as exc:
        raise ConfigError(f"cannot read the recorded measurements {path}: {exc}") from None
    try:
        return Totals.from_json(read_json(data, str(path)))
    except (ConfigError, ValueError, KeyError, TypeError, AttributeError, OverflowError) as exc:
        raise ConfigError(
            f"{path} is not a measurements file tiergate wrote ({exc}); move it away"
        ) from None


class MemoryRecorder:
    """Collects in memory (the `--profile` run)."""

    def __init__(self, clock_ms: Callable[[], int] | None = None) -> None:
        self.totals = Totals()
        self._clock_ms = clock_ms or _wall_ms

    def add(self, measured: Measured) -> None:
        self.totals.add(measured, self._clock_ms())


class FileRecorder:
    def __init__(
        self,
        path: Path,
        *,
        flush_s: float = 2.0,
        clock_ms: Callable[[], int] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        retention_ms: int = RETENTION_MS,
    ) -> None:
        self.path = path
        self._pending = Totals()
        self._flush_s = flush_s
        self._clock_ms = clock_ms or _wall_ms
        self._monotonic = monotonic
        self._flushed_at = monotonic()
        self._retention_ms = retention_ms
        self._lock = threading.Lock()  # guards _pending: added on the loop, taken by the writer
        self._writing = threading.Lock()  # one read, merge and replace of the file at a time
        self._due = threading.Event()
        self._writer: threading.Thread | None = None
        self._failed = False  # a failure is logged once, not every flush

    @classmethod
    def at(cls, settings: Settings) -> FileRecorder:
        recorder = cls(recorded_path(settings))
        atexit.register(recorder.flush)
        return recorder

    def add(self, measured: Measured) -> None:
        """Called in the request: adds to memory only. The file work, when due, is the
        writer thread's."""
        with self._lock:
            self._pending.add(measured, self._clock_ms())
        if self._monotonic() - self._flushed_at >= self._flush_s:
            self._flushed_at = self._monotonic()
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._write_when_due, name="tiergate-recording", daemon=True
                )
                self._writer.start()
            self._due.set()

    def _write_when_due(self) -> None:
        while True:
            self._due.wait()
            self._due.clear()
            self.flush()

    def flush(self) -> None:
        """Merge what was collected into the file, forgetting hours past the retention, in
        the calling thread (the writer's; at exit, the main one). A failure keeps what was
        collected for the next try and is logged once: a recording is never worth failing
        a request, nor the exit."""
        with self._writing:
            with self._lock:
                pending, self._pending = self._pending, Totals()
            if not pending:
                return
            cutoff = self._clock_ms() - self._retention_ms
            try:
                totals = read_recorded(self.path)
                totals.merge(pending)
                totals.drop_before(cutoff)
                self.path.parent.mkdir(parents=True, exist_ok=True)
                scratch = self.path.with_name(f".{self.path.name}.{os.getpid()}")
                scratch.write_text(json.dumps(totals.to_json()), encoding="utf-8")
                os.replace(scratch, self.path)
            except Exception as exc:  # whatever it is, the server goes on
                if not self._failed:
                    self._failed = True
                    log.warning("cannot record the measurements in %s: %s", self.path, exc)
                pending.drop_before(cutoff)
                with self._lock:
                    pending.merge(self._pending)
                    self._pending = pending


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000
