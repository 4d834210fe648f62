"""Alert delivery runs: real SES (moto), a real receiver on loopback, the in-process contacts
and ledger; the pending list is a plain list (tests.alerts.support.PendingStore). The clock
is a FakeClock that the backoff's sleep moves, so no test waits for a backoff."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
from collections.abc import AsyncIterator, Collection, Iterator
from dataclasses import dataclass

import boto3
import pytest
from moto import mock_aws
from standardwebhooks import Webhook

from tiergate.alerts import AlertDelivery, DeliveryLedger, EmailSender, MemoryLedger, new_secret
from tiergate.alerts.contacts_memory import MemoryContacts
from tiergate.alerts.contacts_store import AlertContacts
from tiergate.alerts.email import SesEmailSender, UnconfiguredEmailSender, ses_client
from tiergate.alerts.queue import AlertQueue
from tiergate.alerts.senders import channel_table
from tiergate.alerts.webhook import HttpWebhookSender, webhook_client
from tiergate.clock import Clock, FakeClock, SystemClock
from tiergate.errors import StoreUnavailable
from tiergate.observe import EmfWriter, Observation, bind

from ..support.faults import FaultyStore
from .support import PERIOD_START, PendingStore, Receiver, crossing, receiving, sent_emails

REGION = "us-east-1"
SENDER = "alerts@seller.example"
HOUR = 3_600_000


@pytest.fixture
def ses(aws_credentials: None) -> Iterator[None]:
    with mock_aws():
        boto3.client("sesv2", region_name=REGION).create_email_identity(EmailIdentity=SENDER)
        yield


def emails() -> list[str]:
    """The recipients of every email SES sent, in order."""
    return [m.destinations["ToAddresses"][0] for m in sent_emails(REGION)]


@dataclass
class Rig:
    clock: FakeClock
    store: PendingStore
    contacts: MemoryContacts
    ledger: DeliveryLedger
    sender: HttpWebhookSender
    metrics: list[str]
    sleeps: list[float]

    def delivery(
        self,
        clock: Clock | None = None,
        *,
        own_metrics: bool = True,
        email: EmailSender | None = None,
        store: AlertQueue | None = None,
        **options: float,
    ) -> AlertDelivery:
        async def sleep(seconds: float) -> None:
            self.sleeps.append(seconds)
            self.clock.advance(int(seconds * 1000))

        return AlertDelivery(
            queue=store or self.store,
            contacts=self.contacts,
            senders=channel_table(
                email=email or SesEmailSender(ses_client(REGION, 5.0), sender=SENDER),
                webhook=self.sender,
            ),
            ledger=self.ledger,
            clock=clock or self.clock,
            emf=EmfWriter("tiergate", write=self.metrics.append, clock_ms=self.clock.now_ms)
            if own_metrics
            else None,
            sleep=sleep,
            jitter=lambda: 1.0,
            **options,  # type: ignore[arg-type]
        )

    async def account(self, account_id: str = "acme", *, email: str = "", url: str = "") -> str:
        secret = new_secret() if url else ""
        await self.contacts.update(
            account_id, lambda _: AlertContacts(email=email, url=url, secret=secret)
        )
        return secret

    def outcomes(self) -> list[str]:
        """Every AlertDelivery metric's outcome the runs wrote, one per count."""
        found: list[str] = []
        for chunk in self.metrics:
            for line in chunk.splitlines():
                doc = json.loads(line)
                if "AlertDelivery" in doc:
                    assert doc["service"] == "scheduled"
                    found += [doc["outcome"]] * int(doc["AlertDelivery"])
        return sorted(found)


@pytest.fixture
async def rig(ses: None) -> AsyncIterator[Rig]:
    clock = FakeClock(PERIOD_START + 2 * HOUR)
    client = webhook_client(5.0)
    yield Rig(
        clock,
        PendingStore(clock),
        MemoryContacts(),
        MemoryLedger(),
        HttpWebhookSender(client, allow_loopback=True),
        [],
        [],
    )
    await client.aclose()


async def test_a_receiver_that_fails_twice_gets_it_on_the_third_try(rig: Rig) -> None:
    with receiving(Receiver(answers=[500, 503])) as receiver:
        secret = await rig.account(url=receiver.url)
        rig.store.pending = [c := crossing()]
        report = await rig.delivery().deliver()

    assert report.delivered == 1
    assert report.ok
    assert [r.headers["webhook-id"] for r in receiver.received] == [c.id] * 3
    assert len({r.body for r in receiver.received}) == 1  # the same bytes each time
    Webhook(secret).verify(receiver.received[-1].body, receiver.received[-1].headers)
    assert rig.sleeps == [0.5, 2.0]  # full-jitter backoff, at its ceiling here
    assert rig.store.pending == []
    assert rig.store.dropped == [c]
    assert rig.outcomes() == ["delivered"]


async def test_an_email_delivered_is_not_resent_while_the_webhook_keeps_failing(rig: Rig) -> None:
    with receiving(Receiver(answers=[500] * 3 + [502] * 3)) as receiver:
        await rig.account(email="ops@acme.example", url=receiver.url)
        rig.store.pending = [c := crossing()]
        first = await rig.delivery().deliver()
        rig.clock.advance(60_000)
        second = await rig.delivery().deliver()
        assert rig.store.pending == [c]  # pending while any channel it needs is undelivered
        rig.clock.advance(60_000)
        third = await rig.delivery().deliver()

    assert (first.retrying, second.retrying, third.delivered) == (1, 1, 1)
    assert [f.channel for f in first.failures] == ["webhook"]
    assert "answered 500" in first.failures[0].reason
    assert emails() == ["ops@acme.example"]  # once, in the first run
    assert (first.sent, third.sent) == ({"email": 1, "webhook": 0}, {"email": 0, "webhook": 1})
    assert [r.headers["webhook-id"] for r in receiver.received] == [c.id] * 7
    assert rig.store.pending == []
    assert rig.outcomes() == ["delivered", "failed", "failed"]


async def test_the_pending_list_keeps_what_is_not_delivered(rig: Rig) -> None:
    with receiving(Receiver(answers=[500] * 3)) as failing:
        await rig.account("down", url=failing.url)
        await rig.account("fine", email="ops@fine.example")
        down, fine = crossing("down"), crossing("fine", label="100")
        rig.store.pending = [down, fine]
        report = await rig.delivery().deliver()

    assert (report.pending, report.delivered, report.retrying) == (2, 1, 1)
    assert rig.store.pending == [down]
    assert rig.store.dropped == [fine]
    assert emails() == ["ops@fine.example"]


async def test_failing_for_a_day_is_reported_loudly_and_dropped(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    with receiving(Receiver(answers=[500] * 6)) as receiver:
        await rig.account(url=receiver.url)
        rig.store.pending = [c := crossing(at_ms=rig.clock.now_ms())]
        assert (await rig.delivery().deliver()).retrying == 1
        rig.clock.advance(24 * HOUR)
        with caplog.at_level(logging.INFO, logger="tiergate"):
            report = await rig.delivery().deliver()

    assert report.given_up == 1
    assert report.ok  # the receiver's failure: reported and counted, not a failed run
    assert report.failures[0].given_up
    assert report.failures[0].channel == "webhook"
    assert rig.store.pending == []
    assert rig.store.dropped == [c]
    [error] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "given up" in error.getMessage()
    assert error.__dict__["alert_id"] == c.id
    assert rig.outcomes() == ["dropped", "failed"]


async def test_410_gone_is_given_up_at_once(rig: Rig) -> None:
    with receiving(Receiver(answers=[410])) as receiver:
        await rig.account(url=receiver.url)
        rig.store.pending = [crossing()]
        report = await rig.delivery().deliver()
    assert report.given_up == 1
    assert len(receiver.received) == 1
    assert rig.store.pending == []
    assert rig.outcomes() == ["dropped"]


async def test_an_account_without_contacts_is_logged_and_dropped(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    await rig.account("quiet")
    rig.store.pending = [crossing("quiet"), crossing("gone")]  # "gone": never set any
    with caplog.at_level(logging.INFO, logger="tiergate"):
        report = await rig.delivery().deliver()
    assert report.no_contacts == 2
    assert rig.store.pending == []
    assert sorted(r.__dict__["account_id"] for r in caplog.records if "no alert" in r.message) == [
        "gone",
        "quiet",
    ]
    assert rig.outcomes() == ["no-contacts", "no-contacts"]


async def test_a_hanging_receiver_cannot_hold_the_run_past_its_budget(rig: Rig) -> None:
    hung = Receiver(hold=threading.Event())
    with receiving(hung), receiving() as fine:
        await rig.account("slow", url=hung.url)
        await rig.account("fine", url=fine.url)
        now = SystemClock().now_ms()  # this run is on the wall clock: the crossings are new
        rig.store.pending = [slow := crossing("slow", at_ms=now), crossing("fine", at_ms=now)]
        delivery = rig.delivery(SystemClock(), run_budget_s=0.5, attempt_timeout_s=10)
        started = time.monotonic()
        report = await delivery.deliver()
        took = time.monotonic() - started

    assert took < 2, took
    assert (report.delivered, report.retrying) == (1, 1)
    assert len(fine.received) == 1
    assert rig.store.pending == [slow]  # the next run tries it again


async def test_two_runs_at_once_send_once(rig: Rig) -> None:
    with receiving(Receiver(hold=threading.Event())) as receiver:
        await rig.account(url=receiver.url)
        rig.store.pending = [crossing()]
        assert receiver.hold is not None
        runs = asyncio.gather(rig.delivery().deliver(), rig.delivery().deliver())
        await asyncio.sleep(0.2)
        receiver.hold.set()
        first, second = await runs
    assert len(receiver.received) == 1
    assert sorted([first.delivered, second.delivered]) == [0, 1]
    assert rig.store.pending == []


async def test_the_report_says_what_failed_and_counts_go_to_the_callers_observation(
    rig: Rig,
) -> None:
    with receiving(Receiver(answers=[500] * 3)) as receiver:
        await rig.account(url=receiver.url)
        rig.store.pending = [c := crossing()]
        observation = Observation("run-1", "scheduled")
        with bind(observation):  # as the scheduled runner binds one around its jobs
            report = await rig.delivery(own_metrics=False).deliver()
    assert report.ok  # the receiver's failure
    assert report.lines[0].startswith("1 pending: 0 delivered, 1 retrying")
    assert report.lines[1].startswith(f"{c.id} acme webhook: http://127.0.0.1:")
    assert "answered 500" in report.lines[1]
    assert "/hooks/usage" not in report.lines[1]  # receivers are named by origin only
    assert observation.counts == {("AlertDelivery", "outcome", "failed"): 1}
    assert rig.metrics == []


class SlowContacts(MemoryContacts):
    """Each read takes a minute of the (fake) clock: the run's budget is gone."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.fake_clock = clock
        self.slow = True

    async def get_many(self, account_ids: Collection[str]) -> dict[str, AlertContacts]:
        if self.slow:
            self.fake_clock.advance(60_000)
        return await super().get_many(account_ids)


class DownContacts(MemoryContacts):
    async def get_many(self, account_ids: Collection[str]) -> dict[str, AlertContacts]:
        raise StoreUnavailable("DynamoDB unreachable: refused")


async def test_an_old_alert_is_not_given_up_on_without_an_attempt(rig: Rig) -> None:
    rig.contacts = SlowContacts(rig.clock)
    with receiving(Receiver(answers=[500] * 3)) as receiver:
        await rig.account(url=receiver.url)
        rig.store.pending = [crossing(at_ms=rig.clock.now_ms() - 25 * HOUR)]
        starved = await rig.delivery().deliver()  # a backlog after an outage, say
        assert (starved.retrying, starved.given_up, len(receiver.received)) == (1, 0, 0)
        assert "budget ran out" in starved.failures[0].reason

        assert isinstance(rig.contacts, SlowContacts)
        rig.contacts.slow = False
        tried = await rig.delivery().deliver()
    assert tried.given_up == 1
    assert len(receiver.received) == 3
    assert rig.store.pending == []


async def test_an_address_the_policy_forbids_is_given_up_on_and_never_sent(rig: Rig) -> None:
    await rig.contacts.update(  # written by hand, around the CLI's check
        "acme", lambda _: AlertContacts(email="ops@acme.example\nBcc: everyone@acme.example")
    )
    rig.store.pending = [crossing()]
    report = await rig.delivery().deliver()
    assert report.given_up == 1
    assert "not one plain address" in report.failures[0].reason
    assert sent_emails(REGION) == []


def refusing_url() -> str:
    """A loopback URL where nothing listens: every connection is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hooks/usage"


async def test_a_dead_receivers_backlog_does_not_hold_up_the_others(rig: Rig) -> None:
    """A full batch of crossings for a dead endpoint, then one for a working account: the
    failed ones go to the back, so the next run reaches it."""
    down = refusing_url()
    for n in range(200):
        await rig.account(f"down-{n:03}", url=down)
    await rig.account("fine", email="ops@fine.example")
    backlog = [crossing(f"down-{n:03}") for n in range(200)]
    rig.store.pending = [*backlog, fine := crossing("fine")]
    first = await rig.delivery().deliver()
    rig.clock.advance(60_000)
    second = await rig.delivery().deliver()

    assert (first.pending, first.retrying, first.delivered) == (200, 200, 0)
    assert second.delivered == 1
    assert emails() == ["ops@fine.example"]
    assert rig.store.dropped == [fine]
    # All still pending, rotated: the one the second run's batch left out is now first.
    assert rig.store.pending == backlog[-1:] + backlog[:-1]
    assert (first.ok, second.ok) == (True, True)  # the receiver's failure: not ours


async def test_a_receivers_failure_is_counted_and_retried_but_the_run_stays_ok(
    rig: Rig,
) -> None:
    with receiving(Receiver(answers=[503] * 3)) as receiver:
        await rig.account(url=receiver.url)
        rig.store.pending = [c := crossing()]
        report = await rig.delivery().deliver()
    assert report.ok
    assert (report.retrying, len(report.failures)) == (1, 1)
    assert not report.failures[0].ours
    assert rig.store.pending == [c]
    assert rig.outcomes() == ["failed"]


async def test_our_own_failures_fail_the_run(rig: Rig) -> None:
    """SES refusing our sender (its configuration), and no sender at all in production."""
    await rig.account(email="ops@acme.example")
    rig.store.pending = [crossing()]
    unverified = SesEmailSender(ses_client(REGION, 5.0), sender="nobody@seller.example")
    rejected = await rig.delivery(email=unverified).deliver()
    unconfigured = await rig.delivery(email=UnconfiguredEmailSender()).deliver()

    assert not rejected.ok
    assert "SES" in rejected.failures[0].reason
    assert not unconfigured.ok
    assert "TIERGATE_ALERT_EMAIL_FROM" in unconfigured.failures[0].reason
    assert len(rig.sleeps) == 2  # SES's tries backed off; the missing sender is not retried
    assert rig.outcomes() == ["failed", "failed"]


async def test_a_hot_store_that_cannot_requeue_fails_the_run(rig: Rig) -> None:
    """Ours: the run raises (the scheduled runner reports it failed) and nothing is lost."""
    await rig.account(url=refusing_url())
    rig.store.pending = [c := crossing()]
    faulty = FaultyStore(rig.store)
    faulty.fail(working=["alerts", "alerts_delivered"])
    with pytest.raises(StoreUnavailable, match="alerts_requeue"):
        await rig.delivery(store=faulty).deliver()
    assert rig.store.pending == [c]


async def test_a_run_with_nothing_pending_has_nothing_to_say(rig: Rig) -> None:
    # The server's background loop logs a job's lines each interval: none when idle.
    report = await rig.delivery(own_metrics=False).deliver()
    assert report.ok
    assert report.pending == 0
    assert list(report.lines) == []


async def test_contacts_that_cannot_be_read_fail_the_run_and_stay_pending(rig: Rig) -> None:
    rig.contacts = DownContacts()
    rig.store.pending = [a := crossing("acme"), b := crossing("other")]
    report = await rig.delivery().deliver()
    assert (report.delivered, report.retrying, report.no_contacts) == (0, 2, 0)
    assert not report.ok  # ours, not a receiver's
    assert {f.reason for f in report.failures} == {"DynamoDB unreachable: refused"}
    assert rig.store.pending == [a, b]
    assert rig.outcomes() == ["failed", "failed"]
