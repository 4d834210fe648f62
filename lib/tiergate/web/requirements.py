"""`requires(...)`: a route's minimum tier, cost and feature, declared as a dependency.

The dependency itself only hands the endpoint its admission; the gate middleware finds the
requirement on the matched route before the endpoint runs, so a denied request never reaches
the route's other dependencies or body parsing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from starlette.routing import BaseRoute

from ..errors import GateNotInstalled
from ..gate import Requirement
from ..outcomes import Admitted

try:  # FastAPI 0.16x keeps included routers nested; this walks into them
    from fastapi.routing import iter_route_contexts as _expand
except ImportError:  # older FastAPI copies included routes into the app's own list

    def _expand(routes: Sequence[BaseRoute]) -> Iterator[BaseRoute]:  # type: ignore[misc]
        return iter(routes)


__all__ = [
    "GateNotInstalled",
    "RequirementDependency",
    "all_routes",
    "requirement_of",
    "requires",
]


class RequirementDependency:
    def __init__(self, requirement: Requirement) -> None:
        self.requirement = requirement

    async def __call__(self, request: Request) -> Admitted:
        admitted = request.scope.get("state", {}).get("tiergate")
        if not isinstance(admitted, Admitted):
            raise GateNotInstalled(
                f"{request.url.path} declares requires() but its app was not passed to"
                " tiergate.install(), or the route is outside the gated prefix"
            )
        return admitted


def requires(tier: str | None = None, *, cost: int = 1, feature: str | None = None) -> Any:
    """Declare a route's minimum tier (None: any tier), its cost in quota units, and a feature.

    Use as ``dependencies=[requires("pro", cost=5)]``, or as a parameter
    ``admitted: Annotated[Admitted, requires("pro")]`` to read the caller's account.
    """
    if isinstance(cost, bool) or not isinstance(cost, int) or cost < 0:
        raise ValueError(f"cost must be a whole number >= 0, not {cost!r}")
    return Depends(RequirementDependency(Requirement(tier=tier, cost=cost, feature=feature)))


def all_routes(routes: Sequence[BaseRoute]) -> Iterator[BaseRoute]:
    """Every route an app serves, included routers' routes with their include-level dependencies."""
    return iter(_expand(routes))  # type: ignore[arg-type]


def requirement_of(route: BaseRoute) -> Requirement:
    """The requirement a route declares, or the default (any tier, cost 1)."""
    # FastAPI 0.16x hands out RouteContext wrappers; the dependant is on the route inside.
    inner = getattr(route, "route", route)
    dependant: Dependant | None = getattr(route, "dependant", None) or getattr(
        inner, "dependant", None
    )
    found = _find(dependant.dependencies) if dependant is not None else None
    return found or Requirement()


def _find(dependants: Iterable[Dependant]) -> Requirement | None:
    for dependant in dependants:
        if isinstance(dependant.call, RequirementDependency):
            return dependant.call.requirement
        found = _find(dependant.dependencies)
        if found is not None:
            return found
    return None
