"""CloudWatch metrics as EMF (Embedded Metric Format): JSON lines on stdout that CloudWatch
Logs turns into metrics, with no API call and no agent.

Code counts with ``count(metric, dimension, value)`` while a request is served; the web layer
flushes the request's counts once, at its end, as one line per dimension set::

    {"_aws": {"Timestamp": 1764331200000, "CloudWatchMetrics": [{"Namespace": "tiergate",
      "Dimensions": [["service", "reason"]], "Metrics": [{"Name": "Denied", "Unit": "Count"}]}]},
     "service": "api", "reason": "quota-exhausted", "Denied": 1, "request_id": "..."}

One line per dimension set because EMF puts dimension values at the top level: a request
denied for one reason and degraded for another needs two documents. The names are in
tiergate.telemetry, shared with the alarms.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from ..telemetry import DIM_SERVICE
from .context import Observation, current

__all__ = ["EmfWriter", "count", "emf_documents", "emf_writer"]


def count(metric: str, dimension: str, value: str, n: float = 1) -> None:
    """Add `n` to `metric` under [service, dimension=value] for the request being served.

    Outside a request (the CLI, start-up) there is nothing to flush it, so it is not kept.
    """
    observation = current()
    if observation is None:
        return
    key = (metric, dimension, value)
    observation.counts[key] = observation.counts.get(key, 0) + n


def emf_documents(
    observation: Observation, namespace: str, timestamp_ms: int
) -> Iterator[dict[str, Any]]:
    """The request's counts as EMF documents, one per dimension set."""
    groups: dict[tuple[str, str], dict[str, float]] = {}
    for (metric, dimension, value), n in observation.counts.items():
        group = groups.setdefault((dimension, value), {})
        group[metric] = group.get(metric, 0) + n
    for (dimension, value), values in groups.items():
        directive = {
            "Namespace": namespace,
            "Dimensions": [[DIM_SERVICE, dimension]],
            "Metrics": [{"Name": metric, "Unit": "Count"} for metric in values],
        }
        yield {
            "_aws": {"Timestamp": timestamp_ms, "CloudWatchMetrics": [directive]},
            DIM_SERVICE: observation.service,
            dimension: value,
            **values,
            # Not a dimension: a property, so a metric's data point leads to the request's logs.
            "request_id": observation.request_id,
        }


class EmfWriter:
    """Writes a request's metrics to stdout once it is served. A failed write is dropped: a
    metric is never worth failing or delaying the answer it describes."""

    def __init__(
        self,
        namespace: str,
        *,
        write: Callable[[str], object] | None = None,
        clock_ms: Callable[[], int] | None = None,
    ) -> None:
        self.namespace = namespace
        self._write = write or _stdout
        self._clock_ms = clock_ms or _wall_ms

    def now_ms(self) -> int:
        return self._clock_ms()

    def write(self, text: str) -> None:
        """Lines already rendered (pending cost documents at exit); a failure is dropped."""
        if text:
            with contextlib.suppress(Exception):
                self._write(text)

    def flush(self, observation: Observation, more: str = "") -> None:
        """Write the request's counts, and `more` (lines already rendered: its cost), in
        one write."""
        if not observation.counts and not more:
            return
        try:
            text = more  # an admitted request: its cost line alone, the common case
            if observation.counts:
                now = self._clock_ms()
                lines = [
                    json.dumps(doc, separators=(",", ":"))
                    for doc in emf_documents(observation, self.namespace, now)
                ]
                text = "".join(line + "\n" for line in lines) + more
            self._write(text)
        except Exception:  # noqa: S110 - see the class docstring; stdout is where a log would go
            pass
        observation.counts.clear()


def emf_writer(namespace: str, *, enabled: bool = True) -> EmfWriter:
    """The writer of TIERGATE_EMF: to stdout, or (off) to nowhere."""
    return EmfWriter(namespace) if enabled else EmfWriter(namespace, write=_nowhere)


def _nowhere(_text: str) -> None:
    return None


def _stdout(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()  # Lambda may freeze the process as soon as the handler returns


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000
