"""POST /webhooks/stripe: Stripe's way in. Not gated: Stripe has no API key, its signature is
the credential."""

from __future__ import annotations

import logging

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse

from ..billing.events import UnknownPrice
from ..billing.signature import InvalidSignature, check_header
from ..billing.webhook import WebhookProcessor
from ..config import Settings
from ..errors import ConfigError, StoreUnavailable, StripeUnavailable
from ..observe import metrics
from ..telemetry import (
    DIM_OUTCOME,
    OUTCOME_BAD_REQUEST,
    OUTCOME_FAILED,
    OUTCOME_INVALID_SIGNATURE,
    OUTCOME_NOT_CONFIGURED,
    SERVICE_WEBHOOK,
    WEBHOOK,
)
from ..wiring import Parts, build
from .bodies import BodyTooLarge, read_body, too_large
from .handlers import install_problem_handlers
from .observability import observe
from .problems import problem
from .service import health_router

__all__ = ["WEBHOOK_BODY_LIMIT", "WEBHOOK_PATH", "create_webhook_app", "webhook_router"]

log = logging.getLogger("tiergate")

WEBHOOK_PATH = "/webhooks/stripe"
# Stripe's events are a few KiB (an invoice with its first lines, a subscription with its
# items); 256 KiB is far above any of them and bounds what an unsigned POST can cost.
WEBHOOK_BODY_LIMIT = 256 * 1024


def webhook_router(processor: WebhookProcessor | None) -> APIRouter:
    """The route; with no processor (no STRIPE_WEBHOOK_SECRET) it answers 503 to everything."""
    router = APIRouter()
    # Stripe redelivers each event for days: one error line says it, a line per retry floods.
    unconfigured_logged = False

    @router.post(WEBHOOK_PATH, include_in_schema=False)
    async def stripe_webhook(request: Request) -> Response:
        nonlocal unconfigured_logged
        if processor is None:
            _outcome(OUTCOME_NOT_CONFIGURED)
            if not unconfigured_logged:
                log.error("a Stripe webhook arrived but STRIPE_WEBHOOK_SECRET is not set")
                unconfigured_logged = True
            return problem("webhooks-not-configured")
        signature = request.headers.get("stripe-signature")
        try:
            # The header first: a POST that cannot be from Stripe costs no body read.
            check_header(signature)
            payload = await read_body(request, WEBHOOK_BODY_LIMIT)  # the signed bytes
            outcome = await processor.handle(payload, signature)
        except InvalidSignature as exc:
            _outcome(OUTCOME_INVALID_SIGNATURE)
            log.warning("rejected a webhook: %s", exc)
            return problem("invalid-signature", reason=str(exc))
        except BodyTooLarge as exc:
            _outcome(OUTCOME_BAD_REQUEST)
            log.warning("rejected a webhook: %s", exc)
            return too_large(exc)
        except UnknownPrice as exc:
            # Not recorded: once the operator adds the price, Stripe's retry applies it.
            _outcome(OUTCOME_FAILED)
            log.error("cannot apply a Stripe event: %s", exc)
            return problem("unknown-price", reason=str(exc))
        except ConfigError as exc:
            # The account's tier or limits are not configured: the operator's to fix.
            _outcome(OUTCOME_FAILED)
            log.error("cannot apply a Stripe event: %s", exc)
            return problem("tier-not-configured")
        except (StoreUnavailable, StripeUnavailable) as exc:
            _outcome(OUTCOME_FAILED)
            log.warning("webhook not applied, Stripe will retry: %s", exc)
            return problem("event-not-applied")
        except Exception:
            _outcome(OUTCOME_FAILED)  # a bug: the outermost middleware logs it and answers 500
            raise
        _outcome(outcome)
        return JSONResponse({"received": True, "outcome": outcome})

    return router


def _outcome(outcome: str) -> None:
    """Count the delivery's outcome (telemetry.WEBHOOK), flushed with the request's metrics."""
    metrics.count(WEBHOOK, DIM_OUTCOME, outcome)


def create_webhook_app(settings: Settings | None = None, *, parts: Parts | None = None) -> FastAPI:
    """The webhook alone, deployable as its own function: /webhooks/stripe and /healthz."""
    settings = settings or Settings()
    parts = parts or build(settings)
    app = FastAPI(title="tiergate webhooks", docs_url=None, redoc_url=None, openapi_url=None)
    install_problem_handlers(app)
    app.include_router(health_router)
    app.include_router(webhook_router(parts.webhook_processor(settings.billing)))
    observe(app, settings.observe, service=SERVICE_WEBHOOK, prefix=None)  # last: outermost
    app.state.tiergate = parts
    return app
