"""The context of the request being served, in a contextvar: what its log lines and metrics
are stamped with, and where code deep in the call (the gate, the webhook) counts metrics
without being handed anything.

A contextvar rather than an argument: asyncio tasks and FastAPI's threadpool both copy the
context, so every line logged while serving a request finds it, and nothing in between has
to pass it along.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .resources import Spent

__all__ = ["Observation", "attach", "bind", "current", "detach"]


class Observation:
    """One request: its id, the service serving it, and the metrics counted so far."""

    # A plain class, not a dataclass: this module loads on every cold start, and building a
    # dataclass costs more import time than the rest of it.
    __slots__ = ("counts", "cpu_token", "request_id", "service", "spent")

    def __init__(self, request_id: str, service: str) -> None:
        self.request_id = request_id
        self.service = service
        # (metric, dimension, dimension value) -> count, flushed once when the request ends
        self.counts: dict[tuple[str, str, str], float] = {}
        # What the request spent (observe/resources.py): set for gated requests while costs
        # are measured, else None and nothing is counted.
        self.spent: Spent | None = None
        # Its CpuShares token while the cost meter counts it in flight (sampled or not).
        self.cpu_token: float | None = None


_current: ContextVar[Observation | None] = ContextVar("tiergate_observation", default=None)


def current() -> Observation | None:
    """The request being served, or None outside one (start-up, the CLI)."""
    return _current.get()


def attach(observation: Observation) -> Token[Observation | None]:
    """Make `observation` current until `detach` (bind's two halves, for the request path)."""
    return _current.set(observation)


def detach(token: Token[Observation | None]) -> None:
    _current.reset(token)


@contextmanager
def bind(observation: Observation) -> Iterator[Observation]:
    """Make `observation` current for everything run inside the block."""
    token = _current.set(observation)
    try:
        yield observation
    finally:
        _current.reset(token)
