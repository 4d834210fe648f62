"""`third_party(...)`: a route's fixed third-party cost, declared beside its requirement.

``dependencies=[requires("pro"), third_party("openai", usd=0.002)]`` records one call to
"openai" for $0.002 each time the endpoint runs (not for a denial, nor a replay of a kept
response, which never run it). A cost known only as it happens is recorded from the
endpoint's code instead: ``tiergate.record_call("openai", usd=price)``.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends

from ..observe.resources import record_call

__all__ = ["third_party"]


class _Declared:
    def __init__(self, api: str, usd: float, calls: int) -> None:
        record_call(api, usd=usd, calls=calls)  # checks the declaration now, at import
        self.api, self.usd, self.calls = api, usd, calls

    async def __call__(self) -> None:  # async: a sync dependency would take a worker thread
        record_call(self.api, usd=self.usd, calls=self.calls)


def third_party(api: str, *, usd: float, calls: int = 1) -> Any:
    """Declare that each run of the route calls `api` `calls` times for `usd` dollars."""
    return Depends(_Declared(api, usd, calls))
