"""What the delivery asks of an email sender and of a webhook sender (the clients behind the
channels of `senders.channel_table`), and the one failure every sender reports.

A sender makes one attempt and either returns (delivered) or raises DeliveryFailed; retries,
backoff, budgets and the record of what was delivered are the delivery's (`delivery`).
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["Channel", "DeliveryFailed", "EmailSender", "WebhookSender"]

# A channel's name ("email", "webhook"): the rows of `senders.channel_table` are the channels.
Channel = str


class DeliveryFailed(Exception):
    """One attempt did not deliver. `permanent`: retrying cannot help (410 Gone, a URL the
    policy forbids), so the channel is given up on at once and reported. `retry_after_s`:
    the receiver asked for that wait (Retry-After). `ours`: the failure is ours (SES, its
    configuration or credentials), not the receiver's: it makes the run fail, where a
    receiver's refusal is only counted and retried. `retry_now`: False when another try in
    this run cannot help (a missing configuration): later runs try again."""

    def __init__(
        self,
        reason: str,
        *,
        permanent: bool = False,
        retry_after_s: float | None = None,
        ours: bool = False,
        retry_now: bool = True,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after_s = retry_after_s
        self.ours = ours
        self.retry_now = retry_now


class EmailSender(Protocol):
    async def send(self, *, to: str, subject: str, text: str) -> None:
        """Send one plain-text email; DeliveryFailed when it was not accepted."""
        ...


class WebhookSender(Protocol):
    async def send(
        self, *, url: str, secret: str, message_id: str, body: str, timeout_s: float
    ) -> None:
        """POST `body` to `url`, signed per Standard Webhooks with `secret` under
        `message_id`, within `timeout_s` in all; DeliveryFailed unless answered 2xx."""
        ...
