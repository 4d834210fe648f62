"""Observability without a web framework: one request's context (its id, its service, the
metrics it counted), JSON log lines that carry it, and CloudWatch EMF metric lines.

The web layer binds a context per request (tiergate.web.observability); the rest of tiergate
only calls ``metrics.count`` and logs to the ``tiergate`` logger, and never imports FastAPI.

What a request measures for the cost report is here too, each module loaded where it is
used: the cost meter (``costmeter``, ``cpu``, ``resources``), the counted store and clients
(``counting``), the measurement type (``measurements``, ``totals``) and `tiergate serve`'s
recording (``recording``). The report itself is a tool: ``tiergate_tools.costs``.
"""

from __future__ import annotations

from .context import Observation, bind, current
from .logs import JsonFormatter, TextFormatter, configure_logging
from .metrics import EmfWriter, count, emf_writer
from .requestid import accept_request_id, new_request_id

__all__ = [
    "EmfWriter",
    "JsonFormatter",
    "Observation",
    "TextFormatter",
    "accept_request_id",
    "bind",
    "configure_logging",
    "count",
    "current",
    "emf_writer",
    "new_request_id",
]
