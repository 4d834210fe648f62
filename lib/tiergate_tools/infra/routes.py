"""Routes as plain data, and the path patterns of the two deployment targets."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["AppRoute", "api_gateway_pattern", "sample_path", "vercel_pattern"]


@dataclass(frozen=True, slots=True)
class AppRoute:
    method: str
    path: str  # FastAPI's template, e.g. /v1/items/{item_id}
    min_rank: int  # 0: the lowest tier (or ungated)

    @property
    def paid(self) -> bool:
        return self.min_rank > 0

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def api_gateway_pattern(path: str) -> re.Pattern[str]:
    """An HTTP API route path: {param}, {proxy+} (greedy)."""
    out = re.escape(path)
    out = re.sub(r"\\\{[^}]+\\\+\\\}", ".+", out)
    out = re.sub(r"\\\{[^}]+\\\}", "[^/]+", out)
    return re.compile(f"^{out}$")


def vercel_pattern(source: str) -> re.Pattern[str]:
    """A vercel.json rewrite source: path-to-regexp's :name, :name*, and (regex) groups."""
    out, i = "", 0
    for match in re.finditer(r":(\w+)(\*|\+|\?)?|\([^)]*\)", source):
        out += re.escape(source[i : match.start()])
        token = match.group(0)
        if token.startswith("("):
            out += token
        else:
            out += {"*": ".*", "+": ".+", "?": "[^/]*"}.get(match.group(2) or "", "[^/]+")
        i = match.end()
    out += re.escape(source[i:])
    return re.compile(f"^{out}$")


def sample_path(path: str) -> str:
    """A concrete path for a template: /v1/items/{item_id} -> /v1/items/x."""
    return re.sub(r"\{[^}]+\}", "x", path)
