"""Setting an account's alert contacts (what `tiergate accounts set-alerts` does).

The contacts live on the account in the registry, and only there: the delivery reads them
from the registry on every run, and the hot state in Redis carries none, so nothing needs
writing through. A new URL gets a new signing secret, shown once to the operator.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..errors import TiergateError
from ..registry import Account, Registry
from .destination import Resolver, resolve_destination, system_resolver
from .policy import check_email, new_secret

__all__ = ["ContactsSet", "set_alert_contacts"]


@dataclass(frozen=True, slots=True)
class ContactsSet:
    account: Account
    new_secret: str | None  # the whsec_ made for a URL just set: shown once, never again


async def set_alert_contacts(
    registry: Registry,
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
    before anything is read or written; the sender checks the address again every time."""
    if clear and (email is not None or url is not None):
        raise TiergateError("--clear removes both contacts: give it alone")
    if not clear and email is None and url is None:
        raise TiergateError("give --email, --url or both (or --clear)")
    if email is not None:
        check_email(email)
    if url is not None:
        await resolve_destination(url, allow_loopback=allow_loopback, resolver=resolver)
    secret = new_secret() if url is not None else None

    def change(account: Account) -> Account:
        if clear:
            return dataclasses.replace(account, alert_email="", alert_url="", alert_secret="")
        return dataclasses.replace(
            account,
            alert_email=account.alert_email if email is None else email,
            alert_url=account.alert_url if url is None else url,
            alert_secret=account.alert_secret if secret is None else secret,
        )

    account = await registry.update_account(account_id, change)
    return ContactsSet(account, secret)
