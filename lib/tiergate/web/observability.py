"""The outermost middleware: every request gets an id, its metrics and an access log line
(by default only when it was answered with a problem: TIERGATE_ACCESS_LOG).

It wraps everything install() adds, so that every answer carries ``X-Request-Id`` (the gate's
denials, 404s, webhooks, a crash turned into a 500) and every line logged while serving the
request carries the same id. After the app ran it reads what the gate decided
(``scope["state"]["tiergate.outcome"]``) and counts it; the counts go out as EMF once, when
the request is done.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Literal

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from ..keys import parse_key
from ..observe import EmfWriter, Observation, configure_logging, count, emf_writer
from ..observe.context import attach, detach
from ..observe.costmeter import CostMeter
from ..observe.requestid import accept_request_id, new_request_id
from ..observe.settings import ObserveSettings
from ..outcomes import Admitted, Denied
from ..telemetry import DEGRADED, DENIED, DIM_REASON, REASON_KEY_IN_QUERY, TIER_NONE
from .costs import cost_meter, on_shutdown
from .querykey import key_in_query, key_in_query_problem
from .routing import route_path
from .stamp import HEADERS, REPLY, StampedReply, first_headers

__all__ = ["OUTCOME", "ROUTE", "ObserveMiddleware", "observe"]

OUTCOME = "tiergate.outcome"  # the scope["state"] entry the gate middleware sets
ROUTE = "tiergate.route"  # and the gated route's template, for the cost metrics

AccessLog = Literal["all", "problems", "off"]

# Refusals made on the header alone, before any store is asked: anyone can send them by the
# million, so by default they are counted (EMF) but get no access line.
_KEYLESS = frozenset({"missing-key", "invalid-key", "wrong-environment"})

log = logging.getLogger("tiergate")
access_log = logging.getLogger("tiergate.access")

_REQUEST_ID = b"x-request-id"
_INTERNAL = {
    "type": "about:blank",
    "title": "Internal Server Error",
    "status": 500,
    "detail": "The server failed while answering; the failure is logged under this request id.",
}


def observe(app: FastAPI, settings: ObserveSettings, *, service: str, prefix: str | None) -> None:
    """Log (TIERGATE_LOG_FORMAT) and add the middleware to `app`. Call it after every other
    ``add_middleware``: Starlette makes the last one added the outermost."""
    service = settings.service or service
    if settings.log_json:
        configure_logging(service, settings.log_level, text=settings.log_format == "text")
    writer = emf_writer(settings.metrics_namespace, enabled=settings.emf)
    meter = cost_meter(app, settings, service, writer) if prefix is not None else None
    app.add_middleware(
        ObserveMiddleware,
        service=service,
        writer=writer,
        prefix=prefix,
        access_log=settings.access_log,
        meter=meter,
    )


class ObserveMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        service: str,
        writer: EmfWriter,
        prefix: str | None,
        access_log: AccessLog = "problems",
        meter: CostMeter | None = None,
    ) -> None:
        self.app = app
        self._meter = meter
        self._service = service
        self._writer = writer
        self._prefix = prefix
        self._access_log = access_log
        self._measure_failed = False  # logged once: a broken sink would fail every request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan" and self._meter is not None:
                send = on_shutdown(send, self._meter, self._writer)
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = first_headers(scope)
        observation = Observation(_request_id(scope, headers), self._service)
        # Made here, so that the gate's entry lands in this dict even if a middleware in
        # between copies the scope.
        state: dict[str, Any] = scope.setdefault("state", {})
        reply = StampedReply(send, observation.request_id, rewrite=scope["method"] != "HEAD")
        state[HEADERS] = headers  # the gate's, too: one scan of them per request
        state[REPLY] = reply  # and one send wrapper, this one (the gate adds its fields to it)
        gated = self._gated(route_path(scope))
        refused = key_in_query(
            scope.get("query_string", b""), gated=gated, has_header=b"x-api-key" in headers
        )
        meter = self._meter if gated else None
        if meter is not None:
            meter.start(observation)
        bound = attach(observation)
        try:  # (not `with bind(...)`: a generator's cost per request)
            try:
                if refused:
                    count(DENIED, DIM_REASON, REASON_KEY_IN_QUERY)
                    await reply.problem(key_in_query_problem())
                else:
                    await self.app(scope, receive, reply.send)
            except Exception:
                # Logged here, once, as JSON with the request id; not re-raised, or mangum and
                # uvicorn would print the traceback again as plain text.
                log.exception("unhandled error serving %s %s", scope["method"], scope["path"])
                if not reply.committed:
                    reply.discard()  # a problem the app had begun, if any: ours replaces it
                    await reply.problem(_INTERNAL)
            finally:
                outcome = state.get(OUTCOME)
                _count(outcome)
                if self._logs(reply.status, outcome):
                    name = REASON_KEY_IN_QUERY if refused else _outcome_name(outcome)
                    _access(scope, headers, outcome, name, reply.status, started)
                costs = ""
                if meter is not None:
                    costs = self._measured(meter, observation, outcome, state.get(ROUTE), reply)
                self._writer.flush(observation, costs)
        finally:
            detach(bound)

    def _measured(
        self,
        meter: CostMeter,
        observation: Observation,
        outcome: object,
        route: str | None,
        reply: StampedReply,
    ) -> str:
        """End the request's measurement (always: the CPU shares count requests in flight).
        Only an admitted request is its route's and tier's cost: a denial (a free key's 403
        on a pro route, a 429) was not served by the route, and under the caller's tier it
        would put routes into a tier's mix that the tier cannot use. A measurement that
        fails is dropped, logged once: it is never worth failing the request."""
        try:
            if observation.spent is None:  # not measured (sampling): it only leaves the shares
                return meter.finish(observation, None, TIER_NONE, 0, 0)
            admitted = isinstance(outcome, Admitted)
            tier = getattr(getattr(outcome, "verdict", None), "tier", "") or TIER_NONE
            return meter.finish(
                observation,
                route if admitted else None,
                tier,
                reply.sent_bytes,
                self._writer.now_ms(),
            )
        except Exception:
            if not self._measure_failed:
                self._measure_failed = True
                log.exception("measuring a request's cost failed; its measurement is dropped")
            return ""

    def _logs(self, status: int, outcome: object) -> bool:
        if self._access_log == "problems":
            if isinstance(outcome, Denied) and outcome.slug in _KEYLESS:
                return False  # counted as Denied; a line each would bill the owner for a flood
            return status >= 400 or (isinstance(outcome, Admitted) and bool(outcome.degraded))
        return self._access_log == "all"

    def _gated(self, path: str) -> bool:
        prefix = self._prefix
        return prefix is not None and (path == prefix or path.startswith(prefix + "/"))


def _request_id(scope: Scope, headers: dict[bytes, bytes]) -> str:
    """API Gateway's id on Lambda (it is in API Gateway's own access log too), else a safe
    one the caller sent, else a new one."""
    event = scope.get("aws.event")
    if isinstance(event, dict):
        context = event.get("requestContext")
        if isinstance(context, dict):
            found = accept_request_id(context.get("requestId"))
            if found:
                return found
    return accept_request_id(headers.get(_REQUEST_ID)) or new_request_id()


def _count(outcome: object) -> None:
    if isinstance(outcome, Denied):
        count(DENIED, DIM_REASON, outcome.slug)
    elif isinstance(outcome, Admitted) and outcome.degraded:
        count(DEGRADED, DIM_REASON, outcome.degraded)  # e.g. REASON_FAIL_OPEN


def _access(
    scope: Scope,
    headers: dict[bytes, bytes],
    outcome: object,
    outcome_name: str | None,
    status: int,
    started: float,
) -> None:
    """The request's one access line. Never the query string (it may hold a key) nor the key:
    the key appears as its key_id."""
    route = getattr(scope.get("route"), "path", None)  # the template, e.g. /v1/items/{id}
    raw_key = headers.get(b"x-api-key")
    parsed = parse_key(raw_key.decode("latin-1")) if raw_key else None
    verdict = getattr(outcome, "verdict", None)
    access_log.info(
        "%s %s %d",
        scope["method"],
        route or scope["path"],
        status,
        extra={
            "method": scope["method"],
            "path": scope["path"],
            "route": route,
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            "key_id": parsed.key_id if parsed else None,
            "account": getattr(verdict, "account_id", None) or None,
            "outcome": outcome_name,
            # Lambda's own id for the invocation: its REPORT line (billed duration, memory)
            # carries this one, not API Gateway's.
            "function_request_id": getattr(scope.get("aws.context"), "aws_request_id", None),
        },
    )


def _outcome_name(outcome: object) -> str | None:
    if isinstance(outcome, Denied):
        return outcome.slug
    if isinstance(outcome, Admitted):
        if outcome.degraded:
            return outcome.degraded
        return "replayed" if outcome.replayed else "admitted"
    return None
