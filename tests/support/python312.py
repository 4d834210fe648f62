"""Finding a Python 3.12, the version Lambda and Vercel run, for what must run on it."""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

__all__ = ["python312"]


@functools.cache
def python312() -> str:
    """A real Python 3.12's path (a pyenv shim would run whichever version is global)."""
    candidates = sorted(Path.home().glob(".pyenv/versions/3.12*/bin/python3.12"))
    found = shutil.which("python3.12")
    if found and "shims" not in found:
        candidates.append(Path(found))
    if not candidates:
        raise LookupError("no Python 3.12 on PATH or in pyenv (Lambda and Vercel run 3.12)")
    return str(candidates[-1])
