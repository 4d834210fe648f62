"""The cost meter of an app (observe/costmeter.py): made once by `observe`, and written out
when the server stops, since it batches.

What a meter still batches is written at lifespan shutdown (uvicorn, `tiergate serve`), and
at exit for whatever has no lifespan: an exit handler alone is not enough, because uvicorn
re-raises SIGTERM once it has shut down, and a process killed by a signal runs none.
"""

from __future__ import annotations

import atexit
import weakref

from fastapi import FastAPI
from starlette.types import Message, Send

from ..observe import EmfWriter
from ..observe.costmeter import CostMeter
from ..observe.settings import ObserveSettings

__all__ = ["cost_meter", "on_shutdown", "write_pending"]

# Every live app's meter and its writer. Weak: an app that is gone (a test's) takes its
# meter with it.
_PENDING: weakref.WeakKeyDictionary[CostMeter, EmfWriter] = weakref.WeakKeyDictionary()


def cost_meter(
    app: FastAPI, settings: ObserveSettings, service: str, writer: EmfWriter
) -> CostMeter | None:
    """The app's meter (None when TIERGATE_MEASURE is off), also `app.state.tiergate_costs`,
    where `--profile` adds its own sink."""
    meter = None
    if settings.measure:
        meter = CostMeter(
            settings.metrics_namespace,
            service,
            flush_s=settings.measure_flush,
            sample=settings.measure_sample,
        )
        _PENDING[meter] = writer
        if settings.record_costs:
            from ..observe.recording import FileRecorder  # `tiergate serve` only

            meter.sinks.append(FileRecorder.at(settings))
    app.state.tiergate_costs = meter
    return meter


def _write(meter: CostMeter, writer: EmfWriter) -> None:
    writer.write(meter.drain(writer.now_ms()))
    for sink in meter.sinks:
        flush = getattr(sink, "flush", None)
        if callable(flush):
            flush()


@atexit.register
def write_pending() -> None:
    """Write what every live app's meter still batches (at exit; a benchmark, before it
    lets go of stdout)."""
    for meter, writer in list(_PENDING.items()):
        _write(meter, writer)


def on_shutdown(send: Send, meter: CostMeter, writer: EmfWriter) -> Send:
    """A lifespan `send` that writes the meter's pending measurements as the server shuts
    down."""

    async def sending(message: Message) -> None:
        if message["type"] == "lifespan.shutdown.complete":
            _write(meter, writer)
        await send(message)

    return sending
