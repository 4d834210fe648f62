"""What an alert contact may be: the rules the CLI checks when the operator sets one and the
delivery checks again before every send (the deployment's settings may differ from the
operator's machine, and a record may have been written by hand).

- **URL**: `https://` with a host, and no credentials in it (`user:pass@` would be sent in
  the clear to every proxy and logged by receivers). Plain `http://` only to a loopback host
  (localhost, 127.0.0.0/8, ::1), and only in development: on the operator's own machine for
  trying a receiver out. At most 2,048 characters, no whitespace or control characters.
  This is the text alone: where the host resolves to (public addresses only) is checked by
  `destination.py` when the URL is set and again before every POST, which then connects to
  the address it checked.
- **Email**: one address, `local@domain`, at most 254 characters, nothing that could break
  out of a header (no whitespace, commas, angle brackets or control characters).
- **Secret**: `whsec_` and the base64 of 32 random bytes (Standard Webhooks asks for 24 to
  64), generated here, never chosen by hand.
"""

from __future__ import annotations

import base64
import re
import secrets
from urllib.parse import urlsplit

from ..errors import ConfigError

__all__ = ["InvalidContact", "check_email", "check_url", "new_secret", "url_origin"]

_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$"
)
_MAX_EMAIL = 254
_MAX_URL = 2048
_UNSAFE = re.compile(r"[\x00-\x20\x7f]")
_SECRET_BYTES = 32
_LOOPBACK_NAMES = frozenset({"localhost", "::1"})


class InvalidContact(ConfigError):
    """An alert email or URL the policy above does not allow; the message says why."""


def check_email(address: str, *, what: str = "the alert email") -> str:
    if len(address) > _MAX_EMAIL or not _EMAIL.match(address) or ".." in address:
        raise InvalidContact(f"{what} {address!r} is not one plain address like ops@example.com")
    return address


def check_url(url: str, *, allow_loopback: bool) -> str:
    """`url`, if the policy allows it; else InvalidContact (never echoing credentials)."""
    if len(url) > _MAX_URL or _UNSAFE.search(url):
        raise InvalidContact("the alert URL is over 2048 characters or has spaces or controls")
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a port that is not a number in range
    except ValueError:  # its text may quote the URL, credentials and all: not repeated
        raise InvalidContact("the alert URL cannot be parsed (is its port 0-65535?)") from None
    del port
    if parts.scheme not in ("https", "http"):
        raise InvalidContact(f"the alert URL must be https:// (got {parts.scheme or 'no'} scheme)")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise InvalidContact("the alert URL must not carry credentials (user:password@)")
    host = (parts.hostname or "").lower()
    if not host:
        raise InvalidContact("the alert URL has no host")
    if parts.scheme == "https":
        return url
    if parts.scheme == "http" and _loopback(host):
        if allow_loopback:
            return url
        raise InvalidContact(
            "plain http:// to a loopback host is for development only (TIERGATE_ENV=development)"
        )
    raise InvalidContact("the alert URL must be https:// (plain http:// only to a loopback host)")


def url_origin(url: str) -> str:
    """What logs name a receiver by: scheme, host and port, never the path or query (either
    may carry a token the receiver put there)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}"


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode()


def _loopback(host: str) -> bool:
    return host in _LOOPBACK_NAMES or re.fullmatch(r"127(?:\.\d{1,3}){3}", host) is not None
