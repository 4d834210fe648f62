"""Problem+json for what the framework answers itself: 404, 405, bodies that do not parse or
validate, and crashes. ``install()`` adds these to the app, so every error is a problem.

An app's own handlers stay: only FastAPI's defaults (``{"detail": ...}``) are replaced.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from .problems import blank_problem

__all__ = ["install_problem_handlers"]

_NO_BODY = frozenset({204, 304})
# What the framework says when it has nothing more specific than the status.
_PLAIN = {
    404: "Nothing is served at this path.",
    405: "This path does not answer this method; the Allow header lists those it does.",
}


def install_problem_handlers(app: FastAPI) -> None:
    handlers = app.exception_handlers
    # Starlette's class, not FastAPI's subclass: the router's own 404 and 405 raise the base.
    if handlers.get(HTTPException) in (None, http_exception_handler):
        app.add_exception_handler(HTTPException, _http_problem)
    if handlers.get(RequestValidationError) in (None, request_validation_exception_handler):
        app.add_exception_handler(RequestValidationError, _validation_problem)
    if Exception not in handlers and 500 not in handlers:
        app.add_exception_handler(Exception, _server_error)


async def _http_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    if status < 200 or status in _NO_BODY:
        return Response(status_code=status, headers=exc.headers)
    detail = str(exc.detail)
    if detail == _default_detail(status):
        detail = _PLAIN.get(status, detail)
    return blank_problem(status, detail, headers=exc.headers)


async def _validation_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [_error(e) for e in exc.errors()]
    detail = "; ".join(f"{e['location']}: {e['message']}" for e in errors)
    return blank_problem(422, detail or "The request is not valid.", errors=errors)


def _error(error: Any) -> dict[str, str]:
    # The input is left out on purpose: it may be large, or a secret sent by mistake.
    location = ".".join(str(part) for part in error.get("loc", ())) or "request"
    return {"location": location, "message": str(error.get("msg", "invalid"))}


async def _server_error(request: Request, exc: Exception) -> Response:
    # Starlette raises the exception again once this answer is sent, so the server logs the
    # traceback for the operator; the caller gets the fact alone.
    return blank_problem(500, "The server failed to answer this request; it was logged.")


def _default_detail(status: int) -> str:
    return str(HTTPException(status).detail)
