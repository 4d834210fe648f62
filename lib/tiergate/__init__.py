"""tiergate: enforce API pricing tiers from a serverless function.

from tiergate import install, requires, Settings

install(app)                                   # gate every route under /v1
@app.get("/v1/report", dependencies=[requires("pro", cost=5)])
record_call("openai", usd=0.002)               # in an endpoint: a third-party call's cost

The names load on first use: `import tiergate` alone imports neither FastAPI nor any store, so
a command or a worker that needs one module pays for that module only.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
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


def lazy_exports(
    package: str, homes: Mapping[str, str], names: Sequence[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module `__getattr__` and `__dir__` (PEP 562) of a package whose public `names`
    live in the modules `homes` gives, relative to it: each is loaded when first asked for,
    then kept as a plain attribute. Every package that keeps its imports lazy uses it
    (tiergate, tiergate.alerts, tiergate.schedule); it is written here because `import
    tiergate` loads no module of its own."""
    namespace = sys.modules[package].__dict__

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(home, package), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted([*namespace, *names])

    return __getattr__, __dir__


__getattr__, __dir__ = lazy_exports(__name__, _HOME, __all__)
