"""Names the tests resolve to addresses of their choosing, through the system resolver's own
seam (`socket.getaddrinfo`, which asyncio's `getaddrinfo` calls), so that code under test
resolves exactly as in production. Names not listed resolve as usual."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from typing import Any

import pytest

__all__ = ["fake_dns"]


def fake_dns(monkeypatch: pytest.MonkeyPatch, names: Mapping[str, str]) -> list[str]:
    """Resolve each of `names` to its address; returns the list of names looked up, in order."""
    real = socket.getaddrinfo
    asked: list[str] = []

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        text = host.decode() if isinstance(host, bytes) else str(host)
        asked.append(text)
        if text in names:
            return real(names[text], port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked
