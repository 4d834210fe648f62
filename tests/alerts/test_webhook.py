"""The webhook sender against a real receiver on loopback: signed per Standard Webhooks (the
`standardwebhooks` package verifies it), and nothing a receiver does holds the run."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from tiergate.alerts import DeliveryFailed, new_secret
from tiergate.alerts.message import alert_body
from tiergate.alerts.webhook import HttpWebhookSender, webhook_client

from .support import Receiver, crossing, receiving


@pytest.fixture
async def sender() -> AsyncIterator[HttpWebhookSender]:
    client = webhook_client(5.0)
    yield HttpWebhookSender(client, allow_loopback=True)
    await client.aclose()


async def test_the_post_verifies_with_standardwebhooks(sender: HttpWebhookSender) -> None:
    secret = new_secret()
    c = crossing()
    with receiving() as receiver:
        await sender.send(
            url=receiver.url, secret=secret, message_id=c.id, body=alert_body(c), timeout_s=5
        )
    [got] = receiver.received
    assert got.headers["webhook-id"] == c.id
    assert got.headers["content-type"] == "application/json"
    payload = Webhook(secret).verify(got.body, got.headers)
    assert payload["type"] == "usage.alert"
    assert payload["data"] == {
        "account": "acme",
        "tier": "pro",
        "threshold": "80",
        "used": 800,
        "limit": 1000,
        "period_start": "2025-12-01T00:00:00Z",
        "period_end": "2026-01-01T00:00:00Z",
    }
    with pytest.raises(WebhookVerificationError):  # another secret does not verify it
        Webhook(new_secret()).verify(got.body, got.headers)
    assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 60


async def test_a_redirect_is_a_failure_and_is_not_followed(sender: HttpWebhookSender) -> None:
    receiver = Receiver(answers=[307], headers={307: {"location": "http://127.0.0.1:9/elsewhere"}})
    with receiving(receiver), pytest.raises(DeliveryFailed, match="answered 307") as failed:
        await sender.send(
            url=receiver.url, secret=new_secret(), message_id="a", body="{}", timeout_s=5
        )
    assert not failed.value.permanent
    assert len(receiver.received) == 1


async def test_410_gone_is_permanent_and_retry_after_is_passed_on(
    sender: HttpWebhookSender,
) -> None:
    receiver = Receiver(answers=[410, 503], headers={503: {"retry-after": "7"}})
    with receiving(receiver):
        with pytest.raises(DeliveryFailed) as gone:
            await sender.send(
                url=receiver.url, secret=new_secret(), message_id="a", body="{}", timeout_s=5
            )
        with pytest.raises(DeliveryFailed) as busy:
            await sender.send(
                url=receiver.url, secret=new_secret(), message_id="a", body="{}", timeout_s=5
            )
    assert gone.value.permanent
    assert not busy.value.permanent
    assert busy.value.retry_after_s == 7


async def test_the_answer_body_is_read_only_to_a_small_bound(sender: HttpWebhookSender) -> None:
    receiver = Receiver(answers=[500], body=b"x" * 5_000_000)
    with receiving(receiver), pytest.raises(DeliveryFailed) as failed:
        await sender.send(
            url=receiver.url, secret=new_secret(), message_id="a", body="{}", timeout_s=5
        )
    assert "answered 500: xxx" in failed.value.reason
    assert len(failed.value.reason) < 300


async def test_a_hanging_receiver_costs_the_attempt_its_timeout_only(
    sender: HttpWebhookSender,
) -> None:
    receiver = Receiver(hold=threading.Event())
    with receiving(receiver):
        started = time.monotonic()
        with pytest.raises(DeliveryFailed, match=r"did not answer within 0\.3 s"):
            await sender.send(
                url=receiver.url, secret=new_secret(), message_id="a", body="{}", timeout_s=0.3
            )
        assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("url", "allow_loopback", "why"),
    [
        ("http://example.com/hook", True, "must be https"),
        ("https://user:pw@example.com/hook", True, "credentials"),
        ("http://127.0.0.1:8080/hook", False, "development only"),
    ],
)
async def test_a_url_the_policy_forbids_is_refused_for_good_before_any_request(
    url: str, allow_loopback: bool, why: str
) -> None:
    async def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"no request may be made, got {request.url}")

    client = httpx.AsyncClient(transport=httpx.MockTransport(refuse))
    sender = HttpWebhookSender(client, allow_loopback=allow_loopback)
    with pytest.raises(DeliveryFailed, match=why) as failed:
        await sender.send(url=url, secret=new_secret(), message_id="a", body="{}", timeout_s=1)
    assert failed.value.permanent
    assert "pw" not in failed.value.reason
    await client.aclose()


async def test_the_same_crossing_is_the_same_bytes_every_time() -> None:
    c = crossing()
    assert alert_body(c) == alert_body(crossing())
    assert json.loads(alert_body(c))["id"] == c.id
