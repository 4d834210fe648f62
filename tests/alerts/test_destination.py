"""Where an alert POST may go (alerts/destination.py): the host resolved once, every address
public, and the connection made to the checked address (no DNS rebinding)."""

from __future__ import annotations

import pytest

from tiergate.alerts import DeliveryFailed, InvalidContact, new_secret
from tiergate.alerts.destination import Resolver, Unresolvable, resolve_destination
from tiergate.alerts.webhook import HttpWebhookSender, webhook_client

from ..support.dns import fake_dns
from .support import receiving


def resolving_to(*addresses: str, asked: list[str] | None = None) -> Resolver:
    async def resolver(host: str, port: int) -> list[str]:
        if asked is not None:
            asked.append(host)
        return list(addresses)

    return resolver


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",  # cloud metadata
        "10.1.2.3",
        "172.16.0.9",
        "172.31.255.1",
        "192.168.1.1",
        "100.64.0.1",  # shared (carrier-grade NAT)
        "127.0.0.1",
        "0.0.0.0",  # noqa: S104 (an address refused, not bound)
        "224.0.0.1",
        "::1",
        "fd00::1",  # unique-local
        "fe80::1",  # link-local
        "fe80::1%eth0",
        "::ffff:10.0.0.1",  # IPv4-mapped
        "::ffff:169.254.169.254",
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "fd00:ec2::254",  # EC2's IPv6 metadata address
    ],
)
async def test_a_name_resolving_inside_is_refused_in_production(address: str) -> None:
    with pytest.raises(InvalidContact, match="not a public address"):
        await resolve_destination(
            "https://hooks.acme.example/usage",
            allow_loopback=False,
            resolver=resolving_to(address),
        )


async def test_one_inside_address_among_public_ones_is_enough_to_refuse() -> None:
    with pytest.raises(InvalidContact, match=r"10\.0\.0\.7"):
        await resolve_destination(
            "https://hooks.acme.example/",
            allow_loopback=False,
            resolver=resolving_to("93.184.215.14", "10.0.0.7"),
        )


@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254/latest/meta-data/",
        "https://10.0.0.1/",
        "https://172.16.0.1/",
        "https://192.168.0.1/",
        "https://[fd00::1]/",
        "https://0x7f000001/",  # 127.0.0.1, as a hex literal
        "https://2130706433/",  # 127.0.0.1, as a decimal literal
        "https://0177.0.0.1/",  # 127.0.0.1, in octal
        "https://[::ffff:127.0.0.1]/",
        "https://localhost/",
    ],
)
async def test_inside_addresses_in_any_spelling_are_refused_by_the_real_resolver(
    url: str,
) -> None:
    with pytest.raises(InvalidContact, match="not a public address"):
        await resolve_destination(url, allow_loopback=False)


async def test_a_public_name_is_connected_to_by_its_checked_address() -> None:
    where = await resolve_destination(
        "https://hooks.acme.example:8443/usage?t=1",
        allow_loopback=False,
        resolver=resolving_to("93.184.215.14"),
    )
    assert where.address == "93.184.215.14"
    assert where.connect_url == "https://93.184.215.14:8443/usage?t=1"
    assert (where.host, where.host_header) == ("hooks.acme.example", "hooks.acme.example:8443")
    v6 = await resolve_destination(
        "https://hooks.acme.example/", allow_loopback=False, resolver=resolving_to("2606:4700::1")
    )
    assert v6.connect_url == "https://[2606:4700::1]/"


async def test_loopback_is_allowed_in_development_but_private_never() -> None:
    await resolve_destination(
        "http://localhost:9000/", allow_loopback=True, resolver=resolving_to("127.0.0.1")
    )
    with pytest.raises(InvalidContact, match="not a public address"):
        await resolve_destination(
            "https://receiver.test/", allow_loopback=True, resolver=resolving_to("192.168.0.2")
        )


async def test_a_name_that_does_not_resolve_is_its_own_error() -> None:
    async def fails(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    with pytest.raises(Unresolvable):
        await resolve_destination("https://nowhere.example/", allow_loopback=False, resolver=fails)


async def test_the_sender_refuses_an_inside_address_for_good_and_sends_nothing() -> None:
    client = webhook_client(5.0)
    asked: list[str] = []
    sender = HttpWebhookSender(
        client, allow_loopback=False, resolver=resolving_to("169.254.169.254", asked=asked)
    )
    with pytest.raises(DeliveryFailed, match="not a public address") as failed:
        await sender.send(
            url="https://hooks.acme.example/usage",
            secret=new_secret(),
            message_id="a",
            body="{}",
            timeout_s=2,
        )
    assert failed.value.permanent
    assert asked == ["hooks.acme.example"]
    await client.aclose()


async def test_an_unresolvable_name_is_a_failure_worth_retrying() -> None:
    async def fails(host: str, port: int) -> list[str]:
        raise OSError("Temporary failure in name resolution")

    client = webhook_client(5.0)
    sender = HttpWebhookSender(client, allow_loopback=False, resolver=fails)
    with pytest.raises(DeliveryFailed, match="does not resolve") as failed:
        await sender.send(
            url="https://hooks.acme.example/", secret=new_secret(), message_id="a", body="{}",
            timeout_s=2,
        )  # fmt: skip
    assert not failed.value.permanent
    await client.aclose()


async def test_the_post_goes_to_the_checked_address_once_resolved(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Rebinding: the name is resolved once per attempt, by the check, and the connection goes
    to that address; the client never resolves the name itself (it would ask again)."""
    asked = fake_dns(monkeypatch, {"localhost": "127.0.0.1"})
    client = webhook_client(5.0)
    sender = HttpWebhookSender(client, allow_loopback=True)
    with receiving() as receiver:
        port = receiver.url.split(":")[2].split("/")[0]
        await sender.send(
            url=f"http://localhost:{port}/hooks/usage",
            secret=new_secret(),
            message_id="a",
            body="{}",
            timeout_s=5,
        )
    await client.aclose()
    [got] = receiver.received
    assert got.path == "/hooks/usage"
    assert got.headers["host"] == f"localhost:{port}"
    assert asked == ["localhost"]
