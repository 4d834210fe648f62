"""The alert room's contacts: where an account's usage alerts go, kept by the room itself.

The gate never reads them: they are not on the account (`registry.Account`) nor on its key
items, so the `whsec_` secret is not copied onto every key, not rewritten by every account
write, and not read on a hot-state miss. The delivery reads them once per run for the
accounts it has crossings for; `tiergate accounts set-alerts` changes them.

One file per backend: `contacts_memory.py` (in process) and `contacts_dynamo.py` (one item
per account in the registry's table). `tests/contract/contacts_stores.py` is their table.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Protocol

__all__ = ["NO_CONTACTS", "AlertContacts", "ContactsStore"]


@dataclass(frozen=True, slots=True)
class AlertContacts:
    email: str = ""  # where usage alerts are emailed ("": not emailed)
    url: str = ""  # where usage alerts are POSTed, Standard-Webhooks-signed ("": not)
    secret: str = ""  # whsec_...: the key that signs the POSTs to `url`

    def __bool__(self) -> bool:
        return bool(self.email or self.url)


NO_CONTACTS = AlertContacts()


class ContactsStore(Protocol):
    """Raises `StoreUnavailable` when it cannot answer."""

    async def get_many(self, account_ids: Collection[str]) -> dict[str, AlertContacts]:
        """Every given account's contacts (NO_CONTACTS for one that set none), read at once."""
        ...

    async def update(
        self, account_id: str, change: Callable[[AlertContacts], AlertContacts]
    ) -> AlertContacts:
        """`change` applied to the contacts as stored, committed only if nothing wrote them
        in between (else read and applied again); returns what was committed."""
        ...
