"""What one delivery run did: counts, sends by channel, and every failure (for the scheduled
runner's log and its ok/failed verdict).

Only our own failures fail a run (the registry, the ledger, SES, a missing sender): a
receiver refusing or timing out is the customer's to fix. It is counted (AlertDelivery
failed, then dropped: what the alarms watch) and retried, but a failed run would only make
Lambda retry it and light the dead-letter alarm for as long as one webhook stays broken."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .channels import Channel

__all__ = ["DeliveryReport", "Failure"]


@dataclass(frozen=True, slots=True)
class Failure:
    crossing_id: str
    account_id: str
    channel: Channel | None  # None: the account could not be read
    reason: str
    given_up: bool
    ours: bool = True  # False: the receiver's (their endpoint, their address)


@dataclass(slots=True)
class DeliveryReport:
    pending: int = 0  # crossings read this run
    delivered: int = 0  # every channel delivered (now or before): dropped
    given_up: int = 0  # a channel given up on (reported): dropped
    no_contacts: int = 0  # nowhere to send: logged, dropped
    retrying: int = 0  # left pending for the next run
    # successful sends this run, by channel (every channel of the table, 0 when none)
    sent: dict[Channel, int] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """None of our own parts failed (a receiver's failure is counted, not a failed run)."""
        return not any(f.ours for f in self.failures)

    @property
    def lines(self) -> Sequence[str]:
        """What the run did, then one line per failure (for the scheduled runner's log); no
        line at all for a run that found nothing pending, so a server's terminal stays quiet
        between crossings instead of saying "0 pending" every interval."""
        if not (self.pending or self.failures or any(self.sent.values())):
            return []
        head = (
            f"{self.pending} pending: {self.delivered} delivered, {self.retrying} retrying,"
            f" {self.given_up} given up, {self.no_contacts} without contacts"
            f" (sent {', '.join(f'{n} {channel}s' for channel, n in self.sent.items())})"
        )
        return [head] + [
            f"{f.crossing_id} {f.account_id} {f.channel or 'registry'}:"
            f" {'given up: ' if f.given_up else ''}{f.reason}"
            for f in self.failures
        ]
