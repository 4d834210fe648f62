"""Where an alert POST may go: the URL's host resolved once, every address it names checked,
and the connection made to the address that was checked.

The URL's text is checked by `policy.check_url`; this is the part that needs the network. A
name (or an IP literal in any spelling the resolver accepts: `0x7f000001`, `2130706433`,
`[::ffff:10.0.0.1]`) must resolve only to public addresses: never loopback (but for plain
development), private (10/8, 172.16/12, 192.168/16), link-local (169.254/16, where cloud
metadata answers, and fe80::/10), unique-local (fc00::/7), shared (100.64/10), multicast,
reserved or unspecified ones. IPv6 forms that carry an IPv4 address (mapped, NAT64, 6to4,
Teredo) are judged by the IPv4 address they carry.

A name checked at one moment and resolved again at connect time could answer differently the
second time (DNS rebinding), so the sender never lets the client resolve it: it connects to
the checked address, with the name only in `Host` and in TLS (SNI and the certificate check,
through httpx's documented `sni_hostname` request extension).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from .policy import InvalidContact, check_url

__all__ = ["Destination", "Resolver", "Unresolvable", "resolve_destination", "system_resolver"]

Resolver = Callable[[str, int], Awaitable[list[str]]]
"""(host, port) -> every address the host names, as text."""

_Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class Unresolvable(InvalidContact):
    """The host does not resolve now: unlike an inside address, it may tomorrow."""


@dataclass(frozen=True, slots=True)
class Destination:
    url: str  # as set: what logs and errors name (by origin only)
    host: str  # the name, for Host and TLS
    address: str  # the checked address the connection goes to
    connect_url: str  # the URL with the address in place of the name
    host_header: str  # host[:port], as the URL gave it


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def resolve_destination(
    url: str, *, allow_loopback: bool, resolver: Resolver = system_resolver
) -> Destination:
    """The checked destination of `url`, or InvalidContact saying why it may not be used."""
    check_url(url, allow_loopback=allow_loopback)
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        found = await resolver(host, port)
    except (OSError, UnicodeError) as exc:
        raise Unresolvable(f"the alert URL's host {host!r} does not resolve ({exc})") from None
    if not found:
        raise Unresolvable(f"the alert URL's host {host!r} does not resolve")
    addresses = [_parse(text) for text in found]
    for address in addresses:
        if not _allowed(address, allow_loopback=allow_loopback):
            raise InvalidContact(
                f"the alert URL's host {host!r} resolves to {address}, which is not a public"
                " address (loopback, private, link-local, unique-local or metadata)"
            )
    chosen = addresses[0]
    literal = f"[{chosen}]" if chosen.version == 6 else str(chosen)
    netloc = literal if parts.port is None else f"{literal}:{parts.port}"
    return Destination(
        url=url,
        host=host,
        address=str(chosen),
        connect_url=urlunsplit((parts.scheme, netloc, parts.path, parts.query, "")),
        host_header=parts.netloc,
    )


def _parse(text: str) -> _Address:
    # getaddrinfo may return a scoped IPv6 address (fe80::1%eth0): the scope is not an address
    return ipaddress.ip_address(text.split("%", 1)[0])


def _carried(address: _Address) -> _Address:
    """The IPv4 address an IPv6 one carries, when it carries one; else itself."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if address.sixtofour is not None:
            return address.sixtofour
        if address.teredo is not None:
            return address.teredo[1]
    return address


def _allowed(address: _Address, *, allow_loopback: bool) -> bool:
    inner = _carried(address)
    if inner.is_loopback:
        return allow_loopback
    return inner.is_global and not (inner.is_multicast or inner.is_reserved)
