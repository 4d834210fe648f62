"""`tiergate accounts set-alerts` against DynamoDB Local (no Redis: it needs none), and the
contacts change itself beside a registry that lets other writes land mid-change."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import uuid

import pytest
from standardwebhooks import Webhook

from tiergate.alerts.contacts import set_alert_contacts
from tiergate.alerts.contacts_dynamo import DynamoContacts
from tiergate.alerts.contacts_memory import MemoryContacts
from tiergate.alerts.contacts_store import NO_CONTACTS, AlertContacts
from tiergate.cli import main
from tiergate.clock import FakeClock
from tiergate.config import Settings
from tiergate.errors import NotFound, StoreUnavailable
from tiergate.registry import Account
from tiergate.registry.dynamo import connect
from tiergate.wiring import build

from ..contract.registries import InterleavedMemoryRegistry
from ..support.dns import fake_dns


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, dynamodb_endpoint: str) -> str:
    for name in list(os.environ):
        if name.startswith(("TIERGATE_", "UPSTASH_", "STRIPE_")):
            monkeypatch.delenv(name)
    table = f"alerts-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("TIERGATE_TABLE", table)
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_endpoint)
    monkeypatch.setenv("TIERGATE_DYNAMODB_TIMEOUT", "10")
    assert main(["table", "create"]) == 0
    asyncio.run(build(Settings()).registry.put_account(Account("acme", "pro")))
    return table


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    code = main(["accounts", "set-alerts", *argv])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


def stored(account_id: str = "acme") -> AlertContacts:
    """The account's contacts as the delivery reads them; the account itself unchanged."""
    parts = build(Settings())
    assert asyncio.run(parts.registry.get_account(account_id)) == Account(account_id, "pro")
    return asyncio.run(parts.alert_contacts.get_many([account_id]))[account_id]


def test_a_url_gets_a_secret_printed_once_on_the_last_line(
    env: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_dns(monkeypatch, {"hooks.acme.example": "93.184.215.14"})  # a public address
    capsys.readouterr()
    code, out, err = run(capsys, "acme", "--url", "https://hooks.acme.example/usage?t=1")
    assert (code, err) == (0, "")
    secret = out[-1]
    assert secret.startswith("whsec_")
    Webhook(secret)  # a secret the receiver's library takes
    contacts = stored()
    assert contacts.url == "https://hooks.acme.example/usage?t=1"
    assert contacts.secret == secret

    # the email alone leaves the URL and its secret as they were, and prints no secret
    code, out, _ = run(capsys, "acme", "--email", "ops@acme.example")
    assert code == 0
    assert not any("whsec_" in line for line in out)
    contacts = stored()
    assert (contacts.email, contacts.secret) == ("ops@acme.example", secret)

    # setting the URL again makes a new secret; --clear removes everything
    assert run(capsys, "acme", "--url", "https://hooks.acme.example/v2")[1][-1] != secret
    assert run(capsys, "acme", "--clear")[0] == 0
    assert stored() == NO_CONTACTS


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--url", "http://hooks.acme.example/usage"], "must be https"),
        (["--url", "https://me:hunter2@hooks.acme.example/"], "credentials"),
        (["--email", "ops@acme.example\nBcc: all@x.example"], "not one plain address"),
        (["--clear", "--email", "ops@acme.example"], "give it alone"),
        ([], "give --email, --url"),
    ],
)
def test_what_the_policy_forbids_is_refused_in_one_line_and_not_written(
    env: str, capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    capsys.readouterr()
    code, out, err = run(capsys, "acme", *argv)
    assert code == 2
    assert out == []
    assert err.startswith("tiergate: error: ")
    assert err.count("\n") == 1
    assert needle in err
    assert "hunter2" not in err
    assert stored() == NO_CONTACTS


@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254/latest/meta-data/",
        "https://10.0.0.8/hook",
        "https://172.16.4.4/hook",
        "https://192.168.1.10/hook",
        "https://[fd00::1]/hook",
        "https://0x7f000001/hook",
        "https://hooks.acme.example/hook",  # a name that resolves to a private address
    ],
)
def test_in_production_a_url_that_reaches_inside_is_refused_and_not_written(
    env: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    fake_dns(monkeypatch, {"hooks.acme.example": "10.20.30.40"})
    monkeypatch.setenv("TIERGATE_ENV", "production")
    # production insists on a hot store; set-alerts never calls it (the refusal comes first)
    monkeypatch.setenv("UPSTASH_REDIS_REST_URL", "https://redis.invalid")
    monkeypatch.setenv("UPSTASH_REDIS_REST_TOKEN", "t")
    capsys.readouterr()
    code, out, err = run(capsys, "acme", "--url", url)
    assert (code, out) == (2, [])
    assert "not a public address" in err
    assert err.count("\n") == 1
    for name in ("TIERGATE_ENV", "UPSTASH_REDIS_REST_URL", "UPSTASH_REDIS_REST_TOKEN"):
        monkeypatch.delenv(name)
    assert stored() == NO_CONTACTS


def test_an_unknown_account_is_refused(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    code, _, err = run(capsys, "nobody", "--email", "ops@acme.example")
    assert code == 2
    assert "no account 'nobody'" in err


def test_without_the_table_it_refuses_and_needs_no_redis(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in list(os.environ):
        if name.startswith(("TIERGATE_", "UPSTASH_")):
            monkeypatch.delenv(name)
    code, out, err = run(capsys, "acme", "--email", "ops@acme.example")
    assert code == 2
    assert out == []
    assert err.count("\n") == 1
    assert "TIERGATE_TABLE" in err
    assert "UPSTASH" not in err  # the contacts never reach Redis, so it is not asked for


def test_a_change_that_is_not_written_is_an_error_not_a_success(
    env: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def unreachable(*args: object, **kwargs: object) -> AlertContacts:
        raise StoreUnavailable("DynamoDB unreachable: timed out")

    monkeypatch.setattr(DynamoContacts, "update", unreachable)
    capsys.readouterr()
    code, out, err = run(capsys, "acme", "--url", "http://localhost:9/hook")
    assert (code, out) == (2, [])  # no secret printed for a URL that was not stored
    assert err == "tiergate: error: DynamoDB unreachable: timed out\n"


async def test_the_account_is_not_written_and_a_concurrent_change_is_kept() -> None:
    """A webhook moving the account to another tier while the contacts are set: both land,
    and the account's version is not touched by the contacts (they are not on it)."""
    registry = InterleavedMemoryRegistry(FakeClock(1_764_547_200_000))
    contacts = MemoryContacts()
    await registry.put_account(Account("acme", "free"))

    async def upgrade() -> None:  # version-guarded, as the webhook's apply_event is
        await registry.update_account("acme", lambda a: dataclasses.replace(a, tier="pro"))

    await asyncio.gather(
        set_alert_contacts(registry, contacts, "acme", email="ops@acme.example"), upgrade()
    )
    assert await registry.get_account("acme") == Account("acme", "pro")
    assert await contacts.get_many(["acme"]) == {"acme": AlertContacts(email="ops@acme.example")}
    with pytest.raises(NotFound):
        await set_alert_contacts(registry, contacts, "nobody", email="ops@acme.example")
    assert await contacts.get_many(["nobody"]) == {"nobody": NO_CONTACTS}


def test_migrate_alerts_moves_contacts_an_earlier_version_kept_on_the_account(
    env: str, capsys: pytest.CaptureFixture[str], dynamodb_endpoint: str
) -> None:
    client = connect("us-east-1", dynamodb_endpoint, 5.0)
    client.update_item(  # as an earlier version wrote them: on the account item itself
        TableName=env,
        Key={"pk": {"S": "ACCT#acme"}},
        UpdateExpression="SET ae = :e",
        ExpressionAttributeValues={":e": {"S": "ops@acme.example"}},
    )
    assert stored() == AlertContacts(email="ops@acme.example")  # read before the move, too
    capsys.readouterr()
    assert main(["accounts", "migrate-alerts"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("alert contacts: 1 accounts moved to their own item, 0 had one")
    item = client.get_item(TableName=env, Key={"pk": {"S": "ACCT#acme"}})["Item"]
    assert "ae" not in item
    assert stored() == AlertContacts(email="ops@acme.example")
    assert main(["accounts", "migrate-alerts"]) == 0  # again: nothing left to move
    assert "0 accounts moved" in capsys.readouterr().out
