"""The alert channels as a table: each row knows whether an account has an address on its
channel and how to make one attempt there. The delivery and its attempts go over the table
and name no channel, so a new channel is one class here and one row in `channel_table`; its
address is one field of `contacts_store.AlertContacts` (both backends store it as it is).

A row's `send` makes one attempt, bounded by `timeout_s`, and either returns (delivered) or
raises DeliveryFailed; retries, backoff and the ledger are the delivery's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

from ..usage import AlertCrossing
from .channels import Channel, DeliveryFailed, EmailSender, WebhookSender
from .contacts_store import AlertContacts
from .message import alert_body, email_subject, email_text
from .policy import InvalidContact, check_email

__all__ = ["ChannelSender", "EmailChannel", "WebhookChannel", "channel_table"]


class ChannelSender(Protocol):
    @property
    def channel(self) -> Channel:
        """The channel's name: in the ledger's records, the report and the logs."""
        ...

    def wanted(self, contacts: AlertContacts) -> bool:
        """Whether the account's contacts have an address on this channel."""
        ...

    async def send(
        self, crossing: AlertCrossing, contacts: AlertContacts, timeout_s: float
    ) -> None:
        """One attempt within `timeout_s`; DeliveryFailed unless it was delivered."""
        ...


class EmailChannel:
    channel: Channel = "email"

    def __init__(self, sender: EmailSender) -> None:
        self._sender = sender

    def wanted(self, contacts: AlertContacts) -> bool:
        return bool(contacts.email)

    async def send(
        self, crossing: AlertCrossing, contacts: AlertContacts, timeout_s: float
    ) -> None:
        try:
            check_email(contacts.email)  # as the CLI did: a record may be hand-written
        except InvalidContact as exc:
            raise DeliveryFailed(str(exc), permanent=True) from None
        try:
            async with asyncio.timeout(timeout_s):
                await self._sender.send(
                    to=contacts.email,
                    subject=email_subject(crossing),
                    text=email_text(crossing),
                )
        except TimeoutError:
            raise DeliveryFailed(
                f"the email was not accepted within {timeout_s:g} s", ours=True
            ) from None


class WebhookChannel:
    channel: Channel = "webhook"

    def __init__(self, sender: WebhookSender) -> None:
        self._sender = sender

    def wanted(self, contacts: AlertContacts) -> bool:
        return bool(contacts.url)

    async def send(
        self, crossing: AlertCrossing, contacts: AlertContacts, timeout_s: float
    ) -> None:
        await self._sender.send(
            url=contacts.url,
            secret=contacts.secret,
            message_id=crossing.id,
            body=alert_body(crossing),
            timeout_s=timeout_s,
        )


def channel_table(*, email: EmailSender, webhook: WebhookSender) -> Sequence[ChannelSender]:
    """Every channel, in the order a crossing is sent on them."""
    return (EmailChannel(email), WebhookChannel(webhook))
