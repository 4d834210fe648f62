"""The alert delivery built from settings, once per container: what a scheduled function, a
cron route or `tiergate serve`'s background task runs (`await job.run()`, each minute or so).

Build it once and keep it: its HTTP client keeps connections to receivers, its SES client
is made once, and on the embedded default its ledger (in process) must outlive the runs.
Run it on one event loop (the HTTP client's connections belong to the loop that made them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..clock import Clock
from .channels import EmailSender
from .contacts_store import ContactsStore
from .delivery import AlertDelivery, DeliveryReport
from .ledger import DeliveryLedger, MemoryLedger
from .queue import AlertQueue
from .senders import channel_table

if TYPE_CHECKING:
    import httpx

    from ..observe import EmfWriter
    from ..settings import GateSettings
    from .settings import AlertSettings

__all__ = ["AlertJob", "alert_job"]


class AlertJob:
    def __init__(self, delivery: AlertDelivery, client: httpx.AsyncClient) -> None:
        self.delivery = delivery
        self._client = client

    async def run(self) -> DeliveryReport:
        """One delivery run (see AlertDelivery.deliver)."""
        return await self.delivery.deliver()

    async def aclose(self) -> None:
        await self._client.aclose()


def alert_job(
    settings: AlertSettings,
    gate: GateSettings,
    *,
    queue: AlertQueue,
    contacts: ContactsStore,
    clock: Clock,
    emf: EmfWriter | None = None,
) -> AlertJob:
    """The job on the configured parts: pass the alert queue and contacts of the parts the
    gate uses (`wiring.build(settings)`'s), so the pending list is the one the gate fills.
    `gate`: the gate's settings, for what the room shares with it (the environment, which
    says what a URL may be; the table and region the ledger and SES use)."""
    from .webhook import HttpWebhookSender, webhook_client

    client = webhook_client(settings.alert_webhook_timeout)
    delivery = AlertDelivery(
        queue=queue,
        contacts=contacts,
        senders=channel_table(
            email=_email_sender(settings, gate),
            webhook=HttpWebhookSender(client, allow_loopback=gate.env == "development"),
        ),
        ledger=_ledger(gate),
        clock=clock,
        run_budget_s=settings.alert_run_budget,
        attempt_timeout_s=settings.alert_webhook_timeout,
        give_up_ms=int(settings.alert_give_up_hours * 3_600_000),
        emf=emf,
    )
    return AlertJob(delivery, client)


def _email_sender(settings: AlertSettings, gate: GateSettings) -> EmailSender:
    from .email import LogEmailSender, SesEmailSender, UnconfiguredEmailSender, ses_client

    if not settings.alert_email_from:
        # A log line is an email only where the operator reads the log as it is written.
        return UnconfiguredEmailSender() if gate.env == "production" else LogEmailSender()
    region = settings.ses_region or gate.aws_region or "us-east-1"
    client = ses_client(region, settings.alert_webhook_timeout)
    return SesEmailSender(client, sender=settings.alert_email_from)


def _ledger(gate: GateSettings) -> DeliveryLedger:
    if not gate.table:
        return MemoryLedger()
    from ..wiring import dynamodb_client
    from .ledger_dynamo import DynamoLedger

    return DynamoLedger(lambda: dynamodb_client(gate), gate.table)
