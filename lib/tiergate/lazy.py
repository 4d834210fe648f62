"""A client made on first use, once: the one holder behind every lazily made client (the
Stripe client, the DynamoDB clients of the registry and of the ledgers).

Made lazily so that a cold start does not pay for a client a request may never use (boto3
and stripe take hundreds of milliseconds to import and build). Locked, because boto3 calls
run in worker threads (`asyncio.to_thread`) that may ask for the client at the same moment:
without the lock two clients could be made and one left unclosed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["Lazy"]

T = TypeVar("T")


class Lazy(Generic[T]):
    __slots__ = ("_lock", "_made", "_make")

    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._made: T | None = None
        self._lock = threading.Lock()

    @classmethod
    def of(cls, value: T | Callable[[], T]) -> Lazy[T]:
        """`value` itself, or what the function `value` makes on first use (the stores take
        either a client or a function that makes one)."""
        if callable(value):
            return cls(value)
        return cls(lambda: value)

    def get(self) -> T:
        made = self._made
        if made is None:
            with self._lock:
                made = self._made
                if made is None:
                    made = self._made = self._make()
        return made

    @property
    def made(self) -> bool:
        """Whether the client exists (so that closing it never makes one)."""
        return self._made is not None
