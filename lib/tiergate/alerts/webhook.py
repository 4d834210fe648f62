"""Usage alerts POSTed to the account's URL, signed per Standard Webhooks.

Headers: `webhook-id` (the crossing's id: the same on every retry, the receiver's
idempotency key), `webhook-timestamp` (this attempt, integer seconds) and
`webhook-signature` (`v1,` and the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}` under the
`whsec_` secret, made by the `standardwebhooks` package, about 1 ms to import).

What a receiver cannot do to the run: redirects are never followed (a 3xx is a failure, as
the specification advises); its answer's body is read to at most 512 bytes (for the log),
raw, never decompressed; the whole attempt, connect to last byte, is bounded by
`timeout_s` however slowly the receiver trickles. The client never reads proxies or .netrc
from the environment (`trust_env=False`): no credentials of the host's reach a receiver.

Where it connects: the URL's host is resolved and checked before every attempt, and the POST
goes to the checked address (`destination.py`), so a URL that names or resolves to an inside
address (cloud metadata, the VPC, loopback) is refused, however it is spelled. Connections
are not kept alive: a kept connection is reused by address, and two receivers behind one
address must each get their own TLS session under their own name.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from .channels import DeliveryFailed
from .destination import (
    Destination,
    Resolver,
    Unresolvable,
    resolve_destination,
    system_resolver,
)
from .policy import InvalidContact, url_origin

if TYPE_CHECKING:
    import httpx

__all__ = ["HttpWebhookSender", "webhook_client"]

_MAX_BODY_READ = 512
_USER_AGENT = "tiergate-alerts/1"


def webhook_client(timeout_s: float) -> httpx.AsyncClient:
    """The one client of a container's deliveries: no redirects, no environment, and
    timeouts (each attempt is bounded in all as well, in `send`)."""
    import httpx

    return httpx.AsyncClient(
        follow_redirects=False,
        trust_env=False,
        timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 3.0)),
        limits=httpx.Limits(max_connections=16, max_keepalive_connections=0),
        headers={"user-agent": _USER_AGENT},
    )


class HttpWebhookSender:
    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        allow_loopback: bool,
        resolver: Resolver = system_resolver,
    ) -> None:
        """`allow_loopback`: loopback receivers (and plain http:// to them) are allowed
        (development)."""
        self._client = client
        self._allow_loopback = allow_loopback
        self._resolver = resolver

    async def send(
        self, *, url: str, secret: str, message_id: str, body: str, timeout_s: float
    ) -> None:
        import httpx
        from standardwebhooks import Webhook

        if not secret:
            raise DeliveryFailed("the account has an alert URL but no secret", permanent=True)
        now_s = int(time.time())  # the receiver checks it against its own wall clock
        try:
            signature = Webhook(secret).sign(
                message_id, datetime.fromtimestamp(now_s, tz=UTC), body
            )
        except Exception as exc:  # a malformed secret: base64 or empty
            raise DeliveryFailed(f"the alert secret is unusable: {exc}", permanent=True) from None
        headers = {
            "content-type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(now_s),
            "webhook-signature": signature,
        }
        origin = url_origin(url)
        try:
            async with asyncio.timeout(timeout_s):
                try:
                    where = await resolve_destination(
                        url, allow_loopback=self._allow_loopback, resolver=self._resolver
                    )
                except InvalidContact as exc:
                    # A name that does not resolve may resolve tomorrow; one that resolves
                    # inside, or a URL the policy forbids, is refused for good.
                    permanent = not isinstance(exc, Unresolvable)
                    raise DeliveryFailed(str(exc), permanent=permanent) from None
                status, retry_after, excerpt = await self._post(where, body, headers)
        except TimeoutError:
            raise DeliveryFailed(f"{origin} did not answer within {timeout_s:g} s") from None
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"{origin}: {type(exc).__name__}: {exc}") from None
        if 200 <= status < 300:
            return
        reason = f"{origin} answered {status}" + (f": {excerpt}" if excerpt else "")
        # 410 Gone: the receiver says it wants no more (Standard Webhooks: stop sending).
        raise DeliveryFailed(reason, permanent=status == 410, retry_after_s=retry_after)

    async def _post(
        self, where: Destination, body: str, headers: dict[str, str]
    ) -> tuple[int, float | None, str]:
        async with self._client.stream(
            "POST",
            where.connect_url,
            content=body.encode(),
            headers={**headers, "host": where.host_header},
            extensions={"sni_hostname": where.host},
        ) as r:
            excerpt = b""
            if not 200 <= r.status_code < 300:
                async for chunk in r.aiter_raw():
                    excerpt += chunk
                    if len(excerpt) >= _MAX_BODY_READ:
                        break
            text = excerpt[:_MAX_BODY_READ].decode("utf-8", "replace")
            printable = "".join(c if c.isprintable() else " " for c in text).strip()
            return r.status_code, _retry_after(r.headers.get("retry-after")), printable[:200]


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds; its HTTP-date form is ignored (the backoff applies)."""
    if value is None or not value.strip().isdigit():
        return None
    return float(value.strip())
