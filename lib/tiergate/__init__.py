"""tiergate: enforce API pricing tiers from a serverless function.

from tiergate import install, requires, Settings

install(app)                                   # gate every route under /v1
@app.get("/v1/report", dependencies=[requires("pro", cost=5)])

The names load on first use: `import tiergate` alone imports neither FastAPI nor any store, so
a command or a worker that needs one module pays for that module only.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .outcomes import Admitted
    from .settings import Settings
    from .web import install, requires

__all__ = ["Admitted", "Settings", "install", "requires"]

_HOME = {
    "Admitted": ".outcomes",
    "Settings": ".settings",
    "install": ".web",
    "requires": ".web",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'tiergate' has no attribute {name!r}")
    value = getattr(import_module(home, __name__), name)
    globals()[name] = value  # once found, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
