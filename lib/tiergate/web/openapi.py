"""The OpenAPI document, told what the gate does: the X-API-Key scheme, the Idempotency-Key
header, the limit headers, and every problem an operation can answer, from web/answers.py."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI

from .answers import ANSWERS, gated_slugs
from .problems import PROBLEM_JSON

__all__ = ["declare_api", "problem_responses"]

SCHEME = "ApiKeyAuth"
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; members beyond these are the problem's facts.",
    "type": "object",
    "properties": {
        "type": {"type": "string", "format": "uri-reference", "default": "about:blank"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 100, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string", "format": "uri-reference"},
    },
    "required": ["type", "title", "status"],
    "additionalProperties": True,
}
_STRING = {"type": "string"}
LIMIT_HEADERS = {
    "RateLimit-Policy": {
        "description": 'The policies: "burst" (requests per second), "quota" (units per period)'
        ' and, for a tier with overage, "overage" (units past the quota, up to the cap)',
        "schema": _STRING,
    },
    "RateLimit": {
        "description": "What is left of each policy (r) and when it is whole again (t, s)",
        "schema": _STRING,
    },
}
RETRY_AFTER = {
    "description": "Seconds to wait before a retry can succeed",
    "schema": {"type": "integer", "minimum": 0},
}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Makes a retry safe: the same key on the same request replays the first"
    " answer, uncharged; on another request it is a 422; while the first is still being"
    " served, a 409.",
    # Printable ASCII, not empty (an empty key is refused); no spaces at either end, which
    # servers strip from header values.
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": 255,
        "pattern": "^[!-~]([ -~]*[!-~])?$",
    },
}
_VALIDATION = "The request does not validate (about:blank; `errors` lists where and why)"


def problem_responses(*slugs: str, limits: bool = False) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses for these reasons, one per status (a route's ``responses=``)."""
    by_status: dict[int, list[str]] = {}
    for slug in slugs:
        by_status.setdefault(ANSWERS[slug].status, []).append(slug)
    return {
        status: _response(_describe(found), _headers(found, limits=limits))
        for status, found in sorted(by_status.items())
    }


def declare_api(app: FastAPI, prefix: str) -> None:
    """Complete `app`'s OpenAPI document once, when it is first asked for."""
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
        components.setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        gate_answers = problem_responses(*gated_slugs(), limits=True)
        for path, operations in schema.get("paths", {}).items():
            gated = path == prefix or path.startswith(prefix + "/")
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                if "422" in responses:  # FastAPI's shape; install() answers a problem
                    responses["422"] = _response(_VALIDATION, {})
                if gated:
                    _gate(operation, responses, gate_answers)
        for unused in ("HTTPValidationError", "ValidationError"):
            components["schemas"].pop(unused, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _gate(
    operation: dict[str, Any],
    responses: dict[str, Any],
    gate_answers: dict[int | str, dict[str, Any]],
) -> None:
    operation.setdefault("security", [{SCHEME: []}])
    parameters = operation.setdefault("parameters", [])
    if not any(p.get("name", "").lower() == "idempotency-key" for p in parameters):
        parameters.append(IDEMPOTENCY_KEY)
    for status, response in responses.items():
        if status.startswith("2"):
            response.setdefault("headers", {}).update(LIMIT_HEADERS)
    for code, answer in gate_answers.items():
        mine = responses.get(str(code))
        if mine is None:
            responses[str(code)] = copy.deepcopy(answer)
            continue
        # The route answers this status too: one entry says both.
        mine["description"] = f"{mine['description']}; {answer['description']}"
        mine.setdefault("headers", {}).update(copy.deepcopy(answer.get("headers", {})))
        mine.setdefault("content", {}).update(copy.deepcopy(answer["content"]))


def _describe(slugs: Iterable[str]) -> str:
    return "; ".join(f"`{slug}`: {ANSWERS[slug].description}" for slug in slugs)


def _headers(slugs: list[str], *, limits: bool) -> dict[str, Any]:
    headers: dict[str, Any] = dict(LIMIT_HEADERS) if limits else {}
    if any(ANSWERS[slug].retry_after is not None for slug in slugs):
        headers["Retry-After"] = RETRY_AFTER
    return headers


def _response(description: str, headers: dict[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": _PROBLEM_REF}},
    }
    if headers:
        response["headers"] = headers
    return response
