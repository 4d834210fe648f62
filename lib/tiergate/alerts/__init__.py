"""Usage alerts, the delivery side: the gate records each crossing once (per account, period
and threshold) in its atomic call; a scheduled run delivers them by email (SES) and by a
Standard-Webhooks-signed POST, at least once, deduplicated by the crossing's id.

- `delivery`: one run (AlertDelivery.deliver); `attempts`: one channel with retries and
  backoff inside the budget; `report`: what a run did
- `job`: the delivery built from settings, once per container (what the schedule runs)
- `senders`: the channels as a table of senders (a new channel is one class and one row);
  `channels`: the clients behind them, `email` (SES, or a log line) and `webhook` (httpx)
- `ledger`, `ledger_dynamo`: what was delivered per crossing and channel
- `contacts_store` (+ `contacts_memory`, `contacts_dynamo`): where each account's alerts go,
  the room's own storage (not on the registry's Account); `contacts`: changing them
- `message`: what an alert says; `policy`: what an alert email, URL and secret may be

- `settings`: the room's section of the settings (`AlertSettings`)

The names load on first use: a request loads the room's section of the settings (read with
every other section, tiergate.config) and none of the rest; `job` makes the senders, so even
a name's module imports neither httpx nor boto3.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import lazy_exports

if TYPE_CHECKING:
    from .channels import Channel, DeliveryFailed, EmailSender, WebhookSender
    from .contacts_store import NO_CONTACTS, AlertContacts, ContactsStore
    from .delivery import AlertDelivery, DeliveryReport, Failure
    from .job import AlertJob, alert_job
    from .ledger import DeliveryLedger, MemoryLedger
    from .policy import InvalidContact, check_email, check_url, new_secret

__all__ = [
    "NO_CONTACTS",
    "AlertContacts",
    "AlertDelivery",
    "AlertJob",
    "Channel",
    "ContactsStore",
    "DeliveryFailed",
    "DeliveryLedger",
    "DeliveryReport",
    "EmailSender",
    "Failure",
    "InvalidContact",
    "MemoryLedger",
    "WebhookSender",
    "alert_job",
    "check_email",
    "check_url",
    "new_secret",
]

_HOME = {
    **dict.fromkeys(("Channel", "DeliveryFailed", "EmailSender", "WebhookSender"), ".channels"),
    **dict.fromkeys(("NO_CONTACTS", "AlertContacts", "ContactsStore"), ".contacts_store"),
    **dict.fromkeys(("AlertDelivery", "DeliveryReport", "Failure"), ".delivery"),
    **dict.fromkeys(("AlertJob", "alert_job"), ".job"),
    **dict.fromkeys(("DeliveryLedger", "MemoryLedger"), ".ledger"),
    **dict.fromkeys(("InvalidContact", "check_email", "check_url", "new_secret"), ".policy"),
}

__getattr__, __dir__ = lazy_exports(__name__, _HOME, __all__)
