"""The job built from settings: SES in the configured region, the ledger in the table when
there is one, and the deployment's own TIERGATE_ENV deciding whether loopback URLs go."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from tiergate.alerts import AlertJob, alert_job, new_secret
from tiergate.alerts.contacts_memory import MemoryContacts
from tiergate.alerts.contacts_store import AlertContacts
from tiergate.alerts.queue import AlertQueue
from tiergate.clock import FakeClock
from tiergate.config import Settings
from tiergate.registry.dynamo.table import create_table

from .support import PERIOD_START, PendingStore, crossing, receiving, sent_emails

SENDER = "alerts@seller.example"


def job_of(
    settings: Settings, *, queue: AlertQueue, contacts: MemoryContacts, clock: FakeClock
) -> AlertJob:
    """The job as the job table makes it: the alerts' section and the gate's beside it."""
    return alert_job(settings.alerts, settings.gate, queue=queue, contacts=contacts, clock=clock)


@pytest.fixture
def aws(aws_credentials: None) -> Iterator[None]:
    with mock_aws():
        boto3.client("sesv2", region_name="eu-west-1").create_email_identity(EmailIdentity=SENDER)
        create_table(boto3.client("dynamodb", region_name="us-east-1"), "registry")
        yield


async def test_ses_in_its_region_and_the_ledger_in_the_table(aws: None) -> None:
    settings = Settings(table="registry", alert_email_from=SENDER, ses_region="eu-west-1")
    clock = FakeClock(PERIOD_START + 7_200_000)
    contacts = MemoryContacts()
    await contacts.update("acme", lambda _: AlertContacts(email="ops@acme.example"))
    store = PendingStore(clock, [c := crossing()])
    job = job_of(settings, queue=store, contacts=contacts, clock=clock)
    try:
        report = await job.run()
    finally:
        await job.aclose()

    assert report.delivered == 1
    assert [m.destinations["ToAddresses"] for m in sent_emails("eu-west-1")] == [
        ["ops@acme.example"]
    ]
    item = boto3.client("dynamodb", region_name="us-east-1").get_item(
        TableName="registry", Key={"pk": {"S": f"ALRT#{c.id}#email"}}
    )["Item"]
    assert item["st"] == {"N": "1"}


async def test_in_production_a_loopback_url_is_refused_for_good() -> None:
    clock = FakeClock(PERIOD_START + 7_200_000)
    contacts = MemoryContacts()
    with receiving() as receiver:
        await contacts.update(
            "acme", lambda _: AlertContacts(url=receiver.url, secret=new_secret())
        )
        store = PendingStore(clock, [crossing()])
        job = job_of(Settings(env="production"), queue=store, contacts=contacts, clock=clock)
        try:
            report = await job.run()
        finally:
            await job.aclose()
    assert report.given_up == 1
    assert "development only" in report.failures[0].reason
    assert receiver.received == []


async def test_in_production_without_a_sender_emails_fail_loudly_not_delivered() -> None:
    """A log line on a Lambda reaches nobody: the email is a failure of ours, the run is not
    ok, and after the give-up time the crossing is dropped as given up, never as delivered."""
    clock = FakeClock(PERIOD_START + 7_200_000)
    contacts = MemoryContacts()
    await contacts.update("acme", lambda _: AlertContacts(email="ops@acme.example"))
    store = PendingStore(clock, [c := crossing(at_ms=clock.now_ms())])
    job = job_of(Settings(env="production"), queue=store, contacts=contacts, clock=clock)
    try:
        first = await job.run()
        clock.advance(24 * 3_600_000)
        last = await job.run()
    finally:
        await job.aclose()

    assert (first.delivered, first.retrying, first.sent["email"]) == (0, 1, 0)
    assert [f.reason for f in first.failures] == [
        "alert emails are not configured: set TIERGATE_ALERT_EMAIL_FROM"
    ]
    assert not first.ok
    assert (last.delivered, last.given_up, last.ok) == (0, 1, False)
    assert store.pending == []
    assert store.dropped == [c]


async def test_in_development_without_a_sender_the_email_is_a_log_line() -> None:
    clock = FakeClock(PERIOD_START + 7_200_000)
    contacts = MemoryContacts()
    await contacts.update("acme", lambda _: AlertContacts(email="ops@acme.example"))
    store = PendingStore(clock, [crossing()])
    job = job_of(Settings(env="development"), queue=store, contacts=contacts, clock=clock)
    try:
        report = await job.run()
    finally:
        await job.aclose()
    assert (report.delivered, report.ok, store.pending) == (1, True, [])
