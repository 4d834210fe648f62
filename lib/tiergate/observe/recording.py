"""What `tiergate serve` recorded: the measurements of its gated requests, added up by hour,
route and tier in a small JSON file under TIERGATE_STATE_DIR, which `tiergate costs` reads.

A file rather than memory because the report is another process (the command), run while
the server runs or after it stopped; and sums rather than lines so it stays small. A request
only adds to memory; merging that into the file (a read and an atomic replace of the whole
file, dropping hours older than RETENTION_MS so the file stays small) is a scheduled job, the
"recording" row of schedule/jobs.py, which `tiergate serve`'s background runs make every
TIERGATE_BACKGROUND_INTERVAL seconds in a worker thread; and once more at shutdown and at
exit. Two servers sharing a state directory can lose each other's last few seconds (read,
merge, replace is not locked): give each its own.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from ..errors import ConfigError
from ..jsontext import read_json
from .costmeter import Measured
from .settings import ObserveSettings
from .totals import Totals

__all__ = [
    "FILE_NAME",
    "RETENTION_MS",
    "FileRecorder",
    "Flushed",
    "MemoryRecorder",
    "read_recorded",
    "recorded_path",
]

FILE_NAME = "measurements.json"
# Hours older than this are dropped as the file is rewritten: it would otherwise grow
# forever, and it is read and rewritten whole. 35 days: a month's report, and some slack.
RETENTION_MS = 35 * 86_400_000

log = logging.getLogger("tiergate")


def recorded_path(settings: ObserveSettings) -> Path:
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


class Flushed:
    """What the recording job reports (schedule/jobs.py's Report): always ok, with no lines. A
    recording is never worth failing a run; the recorder logs a failure itself, once."""

    __slots__ = ()
    ok = True
    lines: Sequence[str] = ()


class FileRecorder:
    def __init__(
        self,
        path: Path,
        *,
        clock_ms: Callable[[], int] | None = None,
        retention_ms: int = RETENTION_MS,
    ) -> None:
        self.path = path
        self._pending = Totals()
        self._clock_ms = clock_ms or _wall_ms
        self._retention_ms = retention_ms
        self._lock = threading.Lock()  # guards _pending: added on the loop, taken by the writer
        self._writing = threading.Lock()  # one read, merge and replace of the file at a time
        self._failed = False  # a failure is logged once, not every flush

    @classmethod
    def at(cls, settings: ObserveSettings) -> FileRecorder:
        """The process's one recorder of the file TIERGATE_STATE_DIR names: the app's cost
        meter adds to it and the recording job flushes it, so both must get the same one."""
        path = recorded_path(settings)
        recorder = _RECORDERS.get(path)
        if recorder is None:
            recorder = _RECORDERS[path] = cls(path)
            atexit.register(recorder.flush)
        return recorder

    def add(self, measured: Measured) -> None:
        """Called in the request: adds to memory only. The file is the scheduled job's."""
        with self._lock:
            self._pending.add(measured, self._clock_ms())

    async def scheduled(self) -> Flushed:
        """The recording job: a flush, in a worker thread (never on the event loop)."""
        await asyncio.to_thread(self.flush)
        return _FLUSHED

    def flush(self) -> None:
        """Merge what was collected into the file, forgetting hours past the retention, in
        the calling thread (the job's worker; at shutdown and exit, the server's). A failure
        keeps what was collected for the next try and is logged once: a recording is never
        worth failing a request, nor the exit."""
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


_FLUSHED = Flushed()
# One recorder per file in a process (FileRecorder.at).
_RECORDERS: dict[Path, FileRecorder] = {}


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000
