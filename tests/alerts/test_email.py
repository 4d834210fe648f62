"""Alert emails through SES (moto, in process): the message is read back from moto's SES
backend, as SES would have sent it."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from tiergate.alerts import DeliveryFailed
from tiergate.alerts.email import LogEmailSender, SesEmailSender, ses_client
from tiergate.alerts.message import email_subject, email_text

from .support import crossing, sent_emails

REGION = "eu-west-1"
SENDER = "alerts@seller.example"


@pytest.fixture
def ses(aws_credentials: None) -> Iterator[None]:
    with mock_aws():
        boto3.client("sesv2", region_name=REGION).create_email_identity(EmailIdentity=SENDER)
        yield


async def test_the_email_is_sent_through_ses(ses: None) -> None:
    sender = SesEmailSender(ses_client(REGION, 5.0), sender=SENDER)
    c = crossing(label="100")
    await sender.send(to="ops@customer.example", subject=email_subject(c), text=email_text(c))

    [message] = sent_emails(REGION)
    assert message.source == SENDER
    assert message.destinations["ToAddresses"] == ["ops@customer.example"]
    assert message.subject == "Usage alert: account acme reached 100% of its quota"
    assert "Used 1,000 of 1,000" in message.body
    quoted = json.loads(message.body.split("The same alert as JSON:\n", 1)[1])
    assert quoted["id"] == c.id
    assert quoted["data"]["threshold"] == "100"


async def test_an_unverified_sender_is_a_failure_to_retry(ses: None) -> None:
    sender = SesEmailSender(ses_client(REGION, 5.0), sender="nobody@unverified.example")
    with pytest.raises(DeliveryFailed, match="SES: MessageRejected") as failed:
        await sender.send(to="ops@customer.example", subject="s", text="t")
    assert not failed.value.permanent
    assert failed.value.ours  # our SES configuration, not the recipient's doing
    assert sent_emails(REGION) == []


async def test_without_ses_the_email_is_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="tiergate"):
        await LogEmailSender().send(to="ops@customer.example", subject="Usage alert", text="t")
    [record] = [r for r in caplog.records if r.name == "tiergate.alerts"]
    assert "logged, not sent" in record.getMessage()
    assert record.__dict__["to"] == "ops@customer.example"
