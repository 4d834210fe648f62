"""A request body streamed lazily, counting how much of it the server pulled."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

__all__ = ["Chunks"]


@dataclass
class Chunks:
    """`count` copies of `chunk`, sent one at a time as the server reads them."""

    count: int
    chunk: bytes
    pulled: int = 0

    async def stream(self) -> AsyncIterator[bytes]:
        for _ in range(self.count):
            self.pulled += 1
            yield self.chunk

    @property
    def size(self) -> int:
        return self.count * len(self.chunk)
