"""Usage-alert emails: through Amazon SES (v2 API) when a sender address is configured
(TIERGATE_ALERT_EMAIL_FROM); else, in development, a log line (the embedded default, where
there is no mail to send through and the operator reads the log), and in production a
failure every time (an alert logged on a Lambda reaches nobody: it must not count as
delivered). Every SES failure is ours, never the recipient's (a bad address bounces later).

boto3 is synchronous: the call runs in a worker thread, with its own short timeouts and one
retry, so that an SES outage costs a run seconds, not its whole budget.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from .channels import DeliveryFailed

if TYPE_CHECKING:
    from mypy_boto3_sesv2 import SESV2Client

__all__ = [
    "NOT_CONFIGURED",
    "LogEmailSender",
    "SesEmailSender",
    "UnconfiguredEmailSender",
    "ses_client",
]

_log = logging.getLogger("tiergate.alerts")

NOT_CONFIGURED = "alert emails are not configured: set TIERGATE_ALERT_EMAIL_FROM"


def ses_client(region: str, timeout_s: float) -> SESV2Client:
    """The container's one SES client."""
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=min(timeout_s, 3.0),
        read_timeout=timeout_s,
        retries={"max_attempts": 2, "mode": "standard"},
    )
    return boto3.client("sesv2", region_name=region, config=config)


class SesEmailSender:
    def __init__(self, client: SESV2Client, *, sender: str) -> None:
        self._client = client
        self._sender = sender

    async def send(self, *, to: str, subject: str, text: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        def call() -> None:
            self._client.send_email(
                FromEmailAddress=self._sender,
                Destination={"ToAddresses": [to]},
                Content={
                    "Simple": {
                        "Subject": {"Data": subject, "Charset": "UTF-8"},
                        "Body": {"Text": {"Data": text, "Charset": "UTF-8"}},
                    }
                },
            )

        try:
            await asyncio.to_thread(call)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            # Rejections (an unverified sender, the sandbox's unverified recipient) are the
            # operator's to fix: retried, and reported if they last.
            raise DeliveryFailed(
                f"SES: {error.get('Code', '')}: {error.get('Message', '')}", ours=True
            ) from None
        except BotoCoreError as exc:  # unreachable, or no credentials
            raise DeliveryFailed(f"SES unreachable: {exc}", ours=True) from None


class LogEmailSender:
    """The embedded default: the email is a log line, and that counts as delivered."""

    async def send(self, *, to: str, subject: str, text: str) -> None:
        _log.warning(
            "usage alert email (no TIERGATE_ALERT_EMAIL_FROM: logged, not sent)",
            extra={"to": to, "subject": subject, "text": text},
        )


class UnconfiguredEmailSender:
    """Production without TIERGATE_ALERT_EMAIL_FROM: every email fails, as ours, so the
    crossing stays pending, the run is not ok, and after the give-up time it is dropped
    loudly. Not retried within a run: only a deploy with the setting can help."""

    async def send(self, *, to: str, subject: str, text: str) -> None:
        raise DeliveryFailed(NOT_CONFIGURED, ours=True, retry_now=False)
