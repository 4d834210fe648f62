"""Declare the X-API-Key scheme and the gate's answers on every gated operation."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

__all__ = ["declare_api_key"]

SCHEME = "ApiKeyAuth"
_ANSWERS = {
    "401": "Missing or invalid API key",
    "402": "Billing suspended",
    "403": "Key revoked, or the route needs a higher tier or a feature",
    "429": "Burst limit or quota exhausted; see Retry-After",
    "503": "Limiter unavailable; see Retry-After",
}


def declare_api_key(app: FastAPI, prefix: str) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        components = schema.setdefault("components", {})
        components.setdefault("securitySchemes", {})[SCHEME] = {
            "type": "apiKey",
            "in": "header",
            "name": "X-API-Key",
        }
        problem = {"application/problem+json": {"schema": {"type": "object"}}}
        for path, operations in schema.get("paths", {}).items():
            if path != prefix and not path.startswith(prefix + "/"):
                continue
            for operation in operations.values():
                operation.setdefault("security", [{SCHEME: []}])
                responses = operation.setdefault("responses", {})
                for status, text in _ANSWERS.items():
                    responses.setdefault(status, {"description": text, "content": problem})
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
