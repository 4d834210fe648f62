"""What `tiergate serve` recorded: the measurements of its gated requests, added up by hour,
route and tier in a small JSON file under TIERGATE_STATE_DIR, which `tiergate costs` reads.

A file rather than memory because the report is another process (the command), run while
the server runs or after it stopped; and sums rather than lines so it stays small. The
server merges what it collected into the file at most every `flush_s` seconds from the
request path (one small read and atomic replace, well under a millisecond, about once per
`flush_s`), and once more at exit. Two servers sharing a state directory can lose each
other's last few seconds (read, merge, replace is not locked): give each its own.
"""

from __future__ import annotations

import atexit
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from ..errors import ConfigError
from ..observe.costmeter import Measured
from ..settings import Settings
from .jsontext import parse_json
from .totals import Totals

__all__ = ["FILE_NAME", "FileRecorder", "MemoryRecorder", "read_recorded", "recorded_path"]

FILE_NAME = "measurements.json"


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
        return Totals.from_json(parse_json(data.decode("utf-8"), str(path)))
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
    ) -> None:
        self.path = path
        self._pending = Totals()
        self._flush_s = flush_s
        self._clock_ms = clock_ms or _wall_ms
        self._monotonic = monotonic
        self._flushed_at = monotonic()

    @classmethod
    def at(cls, settings: Settings) -> FileRecorder:
        recorder = cls(recorded_path(settings))
        atexit.register(recorder.flush)
        return recorder

    def add(self, measured: Measured) -> None:
        self._pending.add(measured, self._clock_ms())
        if self._monotonic() - self._flushed_at >= self._flush_s:
            self.flush()

    def flush(self) -> None:
        """Merge what was collected into the file. A failure keeps it for the next try:
        a recording is never worth failing a request."""
        self._flushed_at = self._monotonic()
        if not self._pending:
            return
        try:
            totals = read_recorded(self.path)
            totals.merge(self._pending)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            scratch = self.path.with_name(f".{self.path.name}.{os.getpid()}")
            scratch.write_text(json.dumps(totals.to_json()), encoding="utf-8")
            os.replace(scratch, self.path)
        except (OSError, ConfigError):
            return
        self._pending = Totals()


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000
