"""The alert contacts in process (the embedded default and tests)."""

from __future__ import annotations

from collections.abc import Callable, Collection

from .contacts_store import NO_CONTACTS, AlertContacts

__all__ = ["MemoryContacts"]


class MemoryContacts:
    def __init__(self) -> None:
        self._contacts: dict[str, AlertContacts] = {}

    async def get_many(self, account_ids: Collection[str]) -> dict[str, AlertContacts]:
        return {a: self._contacts.get(a, NO_CONTACTS) for a in account_ids}

    async def update(
        self, account_id: str, change: Callable[[AlertContacts], AlertContacts]
    ) -> AlertContacts:
        # Read, change and write without awaiting: atomic on the event loop.
        contacts = change(self._contacts.get(account_id, NO_CONTACTS))
        self._contacts[account_id] = contacts
        return contacts
