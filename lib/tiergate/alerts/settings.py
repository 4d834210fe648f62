"""The alert delivery's section of the settings: the email sender and the run's bounds.
Where the deliveries are kept (the table) and which environment says what a URL may be are
the gate's settings, passed beside this section."""

from __future__ import annotations

from pydantic import Field, field_validator

from ..settings import Section

__all__ = ["AlertSettings"]


class AlertSettings(Section):
    alert_email_from: str | None = Field(
        default=None,
        description="the sender of usage-alert emails: an address SES has verified (itself or"
        " its domain); unset: alert emails are log lines (the embedded default)",
    )
    ses_region: str | None = Field(
        default=None,
        pattern=r"^[a-z]{2}(-[a-z]+)+-\d$",
        description="the SES region alert emails are sent through (default: AWS_REGION)",
    )
    alert_webhook_timeout: float = Field(
        default=10.0,
        gt=0,
        le=30,
        description="seconds one usage-alert POST may take, answer included",
    )
    alert_run_budget: float = Field(
        default=40.0,
        gt=0,
        le=600,
        description="seconds one alert-delivery run may take; what is left is retried next run",
    )
    alert_give_up_hours: float = Field(
        default=24,
        gt=0,
        le=24 * 14,
        description="hours an alert keeps being retried before it is reported and dropped",
    )

    @field_validator("alert_email_from")
    @classmethod
    def _alert_sender_address(cls, value: str | None) -> str | None:
        if value:
            from .policy import check_email  # the same rule as the accounts' addresses

            check_email(value, what="TIERGATE_ALERT_EMAIL_FROM")
        return value or None
