"""The alert channels are a table: the attempts send through whichever rows they are given,
so a new channel is one sender class and one row, and the delivery names no channel."""

from __future__ import annotations

import asyncio

from tiergate.alerts.attempts import Attempts
from tiergate.alerts.channels import Channel, DeliveryFailed
from tiergate.alerts.contacts_store import NO_CONTACTS, AlertContacts
from tiergate.alerts.report import DeliveryReport
from tiergate.alerts.senders import channel_table
from tiergate.clock import FakeClock
from tiergate.usage import AlertCrossing

CROSSING = AlertCrossing("acme", "pro", "80", 80, 100, 0, 1_000, 500)


class PagerChannel:
    """A channel the package does not have: it fails once, then delivers."""

    channel: Channel = "pager"

    def __init__(self) -> None:
        self.tries: list[float] = []

    def wanted(self, contacts: AlertContacts) -> bool:
        return True  # every account is paged

    async def send(
        self, crossing: AlertCrossing, contacts: AlertContacts, timeout_s: float
    ) -> None:
        self.tries.append(timeout_s)
        if len(self.tries) == 1:
            raise DeliveryFailed("busy")


def test_a_new_channel_is_one_row_of_the_table() -> None:
    pager = PagerChannel()
    clock = FakeClock(1_000)

    async def sleep(seconds: float) -> None:
        clock.advance(int(seconds * 1000))

    attempts = Attempts(
        senders=[pager],
        clock=clock,
        timeout_s=5.0,
        attempts=3,
        sleep=sleep,
        jitter=lambda: 1.0,
    )
    failure = asyncio.run(attempts.deliver(CROSSING, NO_CONTACTS, "pager", 60_000))
    assert failure is None
    assert pager.tries == [5.0, 5.0]


def test_the_table_holds_email_then_webhook_and_the_report_names_each() -> None:
    table = channel_table(email=None, webhook=None)  # type: ignore[arg-type]
    assert [row.channel for row in table] == ["email", "webhook"]
    contacts = AlertContacts(url="https://hooks.example/x")
    assert [row.wanted(contacts) for row in table] == [False, True]
    report = DeliveryReport(sent={"email": 1, "webhook": 2, "pager": 0})
    assert report.lines[0].endswith("(sent 1 emails, 2 webhooks, 0 pagers)")
