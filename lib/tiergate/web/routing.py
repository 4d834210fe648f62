"""Which route will serve a request, and what it requires, resolved once per app.

The gate must know the matched route's requirement before the endpoint runs. Walking every
route and each route's dependency tree per request cost 44 us on 12 routes and grew with the
app, so the table is built once: requirements are read at build time, a path without
parameters is one dict lookup, and only parameterised routes are matched in turn.

A request under the prefix that the table does not match is looked up again over the app's
live route list, so a route added after `install()` is still gated (never served free); only
requests that no route serves (404, 405) pay for that walk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from starlette.routing import BaseRoute, Match, Router
from starlette.types import Scope

from ..gate import Requirement
from .requirements import all_routes, requirement_of

__all__ = ["GatedRoute", "RouteTable", "route_path"]


@dataclass(frozen=True, slots=True)
class GatedRoute:
    route: BaseRoute
    requirement: Requirement
    template: str  # the route's path as declared, e.g. /v1/items/{item_id}


@dataclass(frozen=True, slots=True)
class _Entry:
    order: int  # position among the app's routes: the first full match wins, as in Starlette
    gated: GatedRoute


class RouteTable:
    def __init__(self, router: Router, prefix: str) -> None:
        self._router = router
        self._prefix = prefix
        self._static: dict[str, list[_Entry]] = {}
        self._dynamic: list[_Entry] = []
        for order, route in enumerate(all_routes(router.routes)):
            entry = _Entry(order, _gated(route))
            path = getattr(route, "path", None)
            if isinstance(path, str) and "{" not in path and _is_endpoint(route):
                self._static.setdefault(path, []).append(entry)
            else:
                self._dynamic.append(entry)
        # (path, method) -> the static route found for them, when no other route comes before
        # it: a route of a fixed path matches on the path and the method alone, so the answer
        # is the same every time (what Starlette's router then finds again). Bounded by the
        # static paths times the methods they answer.
        self._known: dict[tuple[str, str], GatedRoute] = {}
        self._first_dynamic = self._dynamic[0].order if self._dynamic else 1 << 62

    def gated(self, scope: Scope) -> GatedRoute | None:
        """The route that will serve this request, when it is under the gated prefix."""
        path = route_path(scope)
        if scope["method"] == "OPTIONS":
            return None
        if path != self._prefix and not path.startswith(self._prefix + "/"):
            return None
        known = self._known.get((path, scope["method"]))
        if known is not None:
            return known
        found = _first_full(scope, self._static.get(path, ()))
        if found is not None and found.order < self._first_dynamic:
            self._known[(path, scope["method"])] = found.gated
            return found.gated
        for entry in self._dynamic:
            if found is not None and entry.order > found.order:
                break
            if entry.gated.route.matches(scope)[0] == Match.FULL:
                return entry.gated
        if found is not None:
            return found.gated
        return self._live_lookup(scope)

    def _live_lookup(self, scope: Scope) -> GatedRoute | None:
        for route in all_routes(self._router.routes):
            if route.matches(scope)[0] == Match.FULL:
                return _gated(route)
        return None  # no such route: the app answers 404/405 without charging anyone


def route_path(scope: Scope) -> str:
    """The path Starlette routes on: `path` less the ASGI `root_path` (uvicorn's --root-path,
    or the prefix of a Mount this app sits under), as Starlette's router computes it. Deciding
    on `path` itself would look for the prefix in the wrong place: under a root path, a route
    without `requires()` was served with no key at all."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and (len(path) == len(root) or path[len(root)] == "/"):
        return path[len(root) :]
    return path


def _first_full(scope: Scope, entries: Sequence[_Entry]) -> _Entry | None:
    for entry in entries:
        if entry.gated.route.matches(scope)[0] == Match.FULL:
            return entry
    return None


def _gated(route: BaseRoute) -> GatedRoute:
    return GatedRoute(route, requirement_of(route), str(getattr(route, "path", "")))


def _is_endpoint(route: BaseRoute) -> bool:
    """A route that serves one path (not a mount, whose path is a prefix of many)."""
    inner = getattr(route, "route", route)
    return getattr(inner, "methods", None) is not None or hasattr(inner, "endpoint")
