"""tiergate: enforce API pricing tiers from a serverless function.

from tiergate import install, requires, Settings

install(app)                                   # gate every route under /v1
@app.get("/v1/report", dependencies=[requires("pro", cost=5)])
record_call("openai", usd=0.002)               # in an endpoint: a third-party call's cost

The names load on first use: `import tiergate` alone imports neither FastAPI nor any store, so
a command or a worker that needs one module pays for that module only.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import Settings
    from .observe.resources import record_call
    from .outcomes import Admitted
    from .web import install, requires
    from .web.thirdparty import third_party

__all__ = ["Admitted", "Settings", "install", "record_call", "requires", "third_party"]

_HOME = {
    "Admitted": ".outcomes",
    "Settings": ".config",
    "install": ".web",
    "record_call": ".observe.resources",
    "requires": ".web",
    "third_party": ".web.thirdparty",
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
