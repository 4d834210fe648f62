"""What one meter push did: sent per account, and every unit it did not send, with why.

Nothing is left out: units not sent are failed (retried on the next run), waiting (no Stripe
customer yet), missed (no longer billable into their period: recorded and alarmed on) or
behind (the hot store counts fewer than were sent already). The CLI prints it and exits 1
when it is not `ok`; a scheduled run logs its `lines`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

__all__ = ["MeterPushReport", "Sent", "Unsent"]


@dataclass(frozen=True, slots=True)
class Sent:
    account_id: str
    meter: str
    period_start_ms: int
    customer_id: str
    units: int
    identifier: str
    duplicate: bool  # Stripe had the identifier already: sent by an earlier attempt


@dataclass(frozen=True, slots=True)
class Unsent:
    account_id: str
    meter: str
    period_start_ms: int
    units: int
    reason: str


@dataclass
class MeterPushReport:
    sent: list[Sent] = field(default_factory=list)
    failed: list[Unsent] = field(default_factory=list)
    waiting: list[Unsent] = field(default_factory=list)
    missed: list[Unsent] = field(default_factory=list)
    behind: list[Unsent] = field(default_factory=list)
    periods: int = 0  # account periods and meters looked at
    forgotten: int = 0  # ended periods fully pushed, no longer listed by the hot store
    stripe_calls: int = 0  # meter events sent (each with the gateway's own retries)
    registry_writes: int = 0  # conditional writes to the outbox (DynamoDB UpdateItems)

    @property
    def ok(self) -> bool:
        """Nothing failed and nothing was missed. Units waiting for a Stripe customer are in
        `problems` and counted (MeterPush outcome waiting) but fail no run: they wait until
        the operator links one, and a scheduled run failing every minute meanwhile would
        hide the failures that need acting on (they are sent once linked, or missed, loudly,
        if their period closes first)."""
        return not (self.failed or self.missed)

    def units_sent(self, account_id: str | None = None) -> int:
        return sum(s.units for s in self.sent if account_id in (None, s.account_id))

    @property
    def lines(self) -> list[str]:
        """Everything, as a scheduled run logs it: `sent_lines`, then `problems`."""
        return self.sent_lines() + self.problems()

    def sent_lines(self) -> list[str]:
        """What was sent, one line per batch, then a summary."""
        out = [
            f"sent {s.units:,} {s.meter} to {s.customer_id} for {s.account_id}"
            f" ({_month(s.period_start_ms)}, {s.identifier}"
            f"{', already at Stripe' if s.duplicate else ''})"
            for s in self.sent
        ]
        out.append(
            f"meter push: {self.units_sent():,} units in {len(self.sent)} events for"
            f" {len({s.account_id for s in self.sent})} accounts; {self.periods} periods looked"
            f" at, {self.forgotten} finished"
        )
        return out

    def problems(self) -> list[str]:
        """Every unit not sent, one line each: what and why."""
        return [
            f"{kind}: {u.units:,} {u.meter} of {u.account_id} ({_month(u.period_start_ms)}):"
            f" {u.reason}"
            for kind, units in (
                ("failed", self.failed),
                ("missed", self.missed),
                ("waiting", self.waiting),
                ("behind", self.behind),
            )
            for u in units
        ]


def _month(ms: int) -> str:
    return "period from " + datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")
