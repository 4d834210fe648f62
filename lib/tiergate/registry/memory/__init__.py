"""The in-process registry backend."""

from __future__ import annotations

from .registry import MemoryRegistry

__all__ = ["MemoryRegistry"]
