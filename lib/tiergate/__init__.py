"""tiergate: enforce API pricing tiers from a serverless function.

from tiergate import install, requires, Settings

install(app)                                   # gate every route under /v1
@app.get("/v1/report", dependencies=[requires("pro", cost=5)])
"""

from __future__ import annotations

from .outcomes import Admitted
from .settings import Settings
from .web import install, requires

__all__ = ["Admitted", "Settings", "install", "requires"]
