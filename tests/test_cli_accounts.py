"""`tiergate accounts link|set-cap` and `tiergate usage` on a hybrid tier, against DynamoDB
Local and a real Redis behind the local Upstash REST server: what the deployed API then sees."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import httpx
import pytest
import stripe
from pydantic import SecretStr

from tiergate.cli import main
from tiergate.config import Settings
from tiergate.gate import Requirement
from tiergate.outcomes import Denied
from tiergate.web.example import create_app
from tiergate.wiring import build
from tiergate_tools.localredis.background import UpstashEndpoint

from .support.cli_env import stores_env

TIERS = json.dumps(
    {
        "free": {"limit": 3, "price": 0, "burst": 1000},
        "pro": {
            "limit": 10,
            "price": 29,
            "burst": 1000,
            "stripe_price": "price_pro",
            "overage": {"meter": "api_overage", "unit_price": 0.002, "cap": 5},
        },
    }
)
WEBHOOK_SECRET = "whsec_cli_test"


@pytest.fixture
def env(
    monkeypatch: pytest.MonkeyPatch, dynamodb_endpoint: str, upstash: UpstashEndpoint
) -> dict[str, str]:
    values = stores_env(monkeypatch, dynamodb_endpoint, upstash, "acc", TIERGATE_TIERS=TIERS)
    assert main(["table", "create"]) == 0
    return values


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    capsys.readouterr()  # not the log lines of the requests served before
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


def new_key(capsys: pytest.CaptureFixture[str], account: str, tier: str = "pro") -> str:
    code, out, err = run(capsys, "keys", "create", "--account", account, "--tier", tier)
    assert code == 0, err
    return out[-1]


def assert_refused(code: int, err: str, *needles: str) -> None:
    assert code == 2
    assert err.startswith("tiergate: error: ")
    assert err.count("\n") == 1, err  # one line
    for needle in needles:
        assert needle in err, err
    assert "Traceback" not in err


def admissions(key: str, n: int) -> list[str]:
    """What a fresh container of the deployed API answers `n` requests with the key: only
    Redis and the table know the account."""

    async def admit() -> list[str]:
        parts = build(Settings())
        try:
            outcomes = [await parts.gate.admit(key, Requirement()) for _ in range(n)]
        finally:
            await parts.aclose()
        return [o.slug if isinstance(o, Denied) else "admitted" for o in outcomes]

    return asyncio.run(admit())


def customer_of(customer: str) -> str | None:
    async def read() -> str | None:
        parts = build(Settings())
        try:
            return await parts.registry.account_for_customer(customer)
        finally:
            await parts.aclose()

    return asyncio.run(read())


def deliver_subscription_for(customer: str) -> tuple[int, str]:
    """A signed customer.subscription.updated to pro that names only the Stripe customer (a
    subscription made outside tiergate's checkout has no account_id metadata), delivered to
    a fresh container's webhook; returns the status and the account's tier afterwards."""
    now_s = int(time.time())  # the webhook checks the signature against the wall clock
    sub = {
        "id": "sub_outside",
        "object": "subscription",
        "customer": customer,
        "status": "active",
        "metadata": {},
        "items": {
            "object": "list",
            "data": [
                {
                    "id": "si_1",
                    "object": "subscription_item",
                    "price": {"id": "price_pro", "object": "price"},
                    "current_period_start": now_s - 60,
                    "current_period_end": now_s + 30 * 86_400,
                }
            ],
        },
    }
    event = {
        "id": f"evt_{uuid.uuid4().hex[:12]}",
        "object": "event",
        "type": "customer.subscription.updated",
        "created": now_s - 1,
        "data": {"object": sub},
    }
    payload = json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(
        payload, WEBHOOK_SECRET, timestamp=now_s
    )

    async def post() -> tuple[int, str]:
        settings = Settings(stripe_webhook_secret=SecretStr(WEBHOOK_SECRET))
        parts = build(settings)
        app = create_app(settings, parts=parts)
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as c:
                response = await c.post(
                    "/webhooks/stripe",
                    content=payload,
                    headers={"Stripe-Signature": header, "Content-Type": "application/json"},
                )
            found = await parts.registry.account_for_customer(customer)
            account = await parts.registry.get_account(found) if found else None
        finally:
            await parts.aclose()
        return response.status_code, account.tier if account else ""

    return asyncio.run(post())


def test_link_makes_the_customers_events_reach_the_account(
    env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    new_key(capsys, "acme", tier="free")
    code, out, err = run(capsys, "accounts", "link", "acme", "--customer", "cus_Existing1")
    assert (code, out, err) == (0, ["account acme linked to Stripe customer cus_Existing1"], "")
    assert customer_of("cus_Existing1") == "acme"
    assert deliver_subscription_for("cus_Existing1") == (200, "pro")
    # A rerun changes nothing and says the same.
    assert run(capsys, "accounts", "link", "acme", "--customer", "cus_Existing1")[0] == 0


@pytest.mark.parametrize(
    ("argv", "needles"),
    [
        (["accounts", "link", "bob", "--customer", "cus_Existing1"], ["linked to account 'acme'"]),
        (["accounts", "link", "acme", "--customer", "cus_Other"], ["cus_Existing1 already"]),
        (["accounts", "link", "acme", "--customer", "acct_123"], ["not a Stripe customer id"]),
        (["accounts", "link", "nobody", "--customer", "cus_New"], ["no account 'nobody'"]),
    ],
    ids=["customer-taken", "account-linked", "not-a-customer", "no-account"],
)
def test_link_refusals_are_one_line_and_change_nothing(
    env: dict[str, str], capsys: pytest.CaptureFixture[str], argv: list[str], needles: list[str]
) -> None:
    new_key(capsys, "acme", tier="free")
    new_key(capsys, "bob", tier="free")
    assert run(capsys, "accounts", "link", "acme", "--customer", "cus_Existing1")[0] == 0
    code, out, err = run(capsys, *argv)
    assert_refused(code, err, *needles)
    assert out == []
    assert customer_of("cus_Existing1") == "acme"
    assert customer_of("cus_Other") is None
    assert customer_of("cus_New") is None


@pytest.mark.parametrize(
    "argv",
    [
        ["accounts", "link", "acme", "--customer", "cus_Existing1"],
        ["accounts", "set-cap", "acme", "--cap", "1"],
    ],
    ids=["link", "set-cap"],
)
def test_account_changes_without_the_stores_are_refused_before_anything_is_written(
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
) -> None:
    key = new_key(capsys, "acme")
    monkeypatch.delenv("UPSTASH_REDIS_REST_URL")
    monkeypatch.delenv("UPSTASH_REDIS_REST_TOKEN")
    code, out, err = run(capsys, *argv)
    assert_refused(code, err, "UPSTASH_REDIS_REST_URL", "never see")
    monkeypatch.delenv("TIERGATE_TABLE")
    code, out, err = run(capsys, *argv)
    assert_refused(code, err, "TIERGATE_TABLE", "throwaway")
    assert out == []
    monkeypatch.setenv("TIERGATE_TABLE", env["TIERGATE_TABLE"])
    monkeypatch.setenv("UPSTASH_REDIS_REST_URL", env["UPSTASH_REDIS_REST_URL"])
    monkeypatch.setenv("UPSTASH_REDIS_REST_TOKEN", env["UPSTASH_REDIS_REST_TOKEN"])
    assert customer_of("cus_Existing1") is None
    assert admissions(key, 16) == ["admitted"] * 15 + ["quota-exhausted"]  # the tier's cap


def test_set_cap_reaches_the_very_next_request(
    env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    key = new_key(capsys, "acme")
    assert admissions(key, 11) == ["admitted"] * 11  # 1 unit into overage; hot in Redis
    code, out, _ = run(capsys, "accounts", "set-cap", "acme", "--cap", "1")
    assert (code, out) == (0, ["account acme: overage cap 1 units per period"])
    assert admissions(key, 1) == ["quota-exhausted"]  # written through, not waited out
    assert "overage  1 of a cap of 1" in run(capsys, "usage", "acme")[1]

    code, out, _ = run(capsys, "accounts", "set-cap", "acme", "--clear")
    assert (code, out) == (0, ["account acme: overage cap 5 units per period (the tier's)"])
    assert admissions(key, 5) == ["admitted"] * 4 + ["quota-exhausted"]


@pytest.mark.parametrize(
    ("account", "cap", "needles"),
    [
        ("acme", "6", ["0..5", "only be lower"]),
        ("freebie", "1", ["tier 'free'", "no overage"]),
        ("nobody", "1", ["no account 'nobody'"]),
    ],
    ids=["above-the-tier", "tier-without-overage", "no-account"],
)
def test_set_cap_refusals(
    env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    account: str,
    cap: str,
    needles: list[str],
) -> None:
    key = new_key(capsys, "acme")
    new_key(capsys, "freebie", tier="free")
    code, out, err = run(capsys, "accounts", "set-cap", account, "--cap", cap)
    assert_refused(code, err, *needles)
    assert out == []
    assert admissions(key, 16) == ["admitted"] * 15 + ["quota-exhausted"]


def test_set_cap_takes_a_whole_number_or_clear(
    env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (["--cap", "-1"], ["--cap", "many"], [], ["--cap", "1", "--clear"]):
        with pytest.raises(SystemExit) as exit_:
            main(["accounts", "set-cap", "acme", *argv])
        assert exit_.value.code == 2  # argparse's usage error
        assert "Traceback" not in capsys.readouterr().err


def test_usage_shows_overage_cap_and_routes(
    env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    key = new_key(capsys, "acme")

    async def serve(n: int) -> None:
        parts = build(Settings())
        app = create_app(Settings(), parts=parts)
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as c:
                for _ in range(n):
                    assert (await c.get("/v1/hello", headers={"X-API-Key": key})).status_code == 200
                usage = await c.get("/v1/usage", headers={"X-API-Key": key})
                served.update(usage.json())
        finally:
            await parts.aclose()

    served: dict[str, object] = {}
    asyncio.run(serve(12))
    code, out, _ = run(capsys, "usage", "acme")
    assert code == 0
    assert "used     12 of 10 (0 left)" in out
    assert "overage  2 of a cap of 5" in out
    assert any(line.startswith("routes") and "/v1/hello" in line and "12" in line for line in out)

    code, out, _ = run(capsys, "usage", key, "--json")
    document = json.loads("\n".join(out))
    shared = {k: v for k, v in served.items() if k in document}
    assert set(shared) == {
        "account", "tier", "limit", "used", "remaining", "overage", "overage_cap",
        "period_start", "period_end", "routes",
    }  # fmt: skip
    assert {k: document[k] for k in shared} == shared  # the operator sees what the customer sees
    assert (document["overage"], document["overage_cap"]) == (2, 5)


def test_usage_of_a_flat_tier_says_it_has_no_overage(
    env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    new_key(capsys, "freebie", tier="free")
    out = run(capsys, "usage", "freebie")[1]
    assert "overage  none: the tier stops at its limit" in out
    assert "routes   none billed yet" in out
