"""Setting an account's alert contacts (what `tiergate accounts set-alerts` does).

The contacts live in the alert room's own store (`contacts_store`), not on the account: the
delivery reads them from there on every run, and neither the registry's key items nor the
hot state in Redis carry them, so nothing needs writing through. A new URL gets a new
signing secret, shown once to the operator.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..errors import NotFound, TiergateError
from ..registry import Registry
from .contacts_store import NO_CONTACTS, AlertContacts, ContactsStore
from .destination import Resolver, resolve_destination, system_resolver
from .policy import check_email, new_secret

__all__ = ["ContactsSet", "set_alert_contacts"]


@dataclass(frozen=True, slots=True)
class ContactsSet:
    account_id: str
    contacts: AlertContacts  # as committed
    new_secret: str | None  # the whsec_ made for a URL just set: shown once, never again


async def set_alert_contacts(
    registry: Registry,
    contacts: ContactsStore,
    account_id: str,
    *,
    email: str | None = None,
    url: str | None = None,
    clear: bool = False,
    allow_loopback: bool = False,
    resolver: Resolver = system_resolver,
) -> ContactsSet:
    """Set the email and/or the URL (a URL with a fresh secret), or `clear` both. What is
    not given stays as it was. Validated (policy, and where the URL's host resolves to)
    before anything is read or written; the sender checks the address again every time.
    NotFound for an account the registry does not have."""
    if clear and (email is not None or url is not None):
        raise TiergateError("--clear removes both contacts: give it alone")
    if not clear and email is None and url is None:
        raise TiergateError("give --email, --url or both (or --clear)")
    if email is not None:
        check_email(email)
    if url is not None:
        await resolve_destination(url, allow_loopback=allow_loopback, resolver=resolver)
    secret = new_secret() if url is not None else None
    if await registry.get_account(account_id) is None:
        raise NotFound(f"no account {account_id!r}")

    def change(current: AlertContacts) -> AlertContacts:
        if clear:
            return NO_CONTACTS
        return dataclasses.replace(
            current,
            email=current.email if email is None else email,
            url=current.url if url is None else url,
            secret=current.secret if secret is None else secret,
        )

    committed = await contacts.update(account_id, change)
    return ContactsSet(account_id, committed, secret)
