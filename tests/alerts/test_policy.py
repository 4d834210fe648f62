"""What an alert URL, email and secret may be (alerts/policy.py)."""

from __future__ import annotations

import base64

import pytest
from standardwebhooks import Webhook

from tiergate.alerts import InvalidContact, check_email, check_url, new_secret
from tiergate.alerts.policy import url_origin


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.acme.example/usage",
        "https://hooks.acme.example:8443/usage?token=abc",
        "https://203.0.113.7/usage",
    ],
)
def test_https_urls_are_allowed_anywhere(url: str) -> None:
    assert check_url(url, allow_loopback=False) == url


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/hook", "http://localhost/hook", "http://[::1]:9000/"]
)
def test_plain_http_only_to_loopback_and_only_in_development(url: str) -> None:
    assert check_url(url, allow_loopback=True) == url
    with pytest.raises(InvalidContact, match="development only"):
        check_url(url, allow_loopback=False)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://hooks.acme.example/usage", "must be https"),
        ("http://127.0.0.1.evil.example/usage", "must be https"),
        ("ftp://hooks.acme.example/", "must be https"),
        ("hooks.acme.example/usage", "must be https"),
        ("https://ops:s3cret@hooks.acme.example/", "credentials"),
        ("https://ops@hooks.acme.example/", "credentials"),
        ("https:///usage", "no host"),
        ("https://hooks.acme.example:99999/", "cannot be parsed"),
        ("https://ops:s3cret/usage", "cannot be parsed"),
        ("https://hooks.acme.example/a b", "spaces"),
        ("https://hooks.acme.example/\r\nX-Injected: 1", "controls"),
        ("https://hooks.acme.example/" + "a" * 2048, "2048"),
    ],
)
def test_what_is_refused(url: str, why: str) -> None:
    with pytest.raises(InvalidContact, match=why) as refused:
        check_url(url, allow_loopback=True)
    assert "s3cret" not in str(refused.value)


def test_logs_name_a_receiver_by_its_origin_only() -> None:
    assert url_origin("https://hooks.acme.example:8443/u?token=abc") == (
        "https://hooks.acme.example:8443"
    )


@pytest.mark.parametrize("address", ["ops@acme.example", "first.last+alerts@mail.acme.example"])
def test_plain_addresses_are_allowed(address: str) -> None:
    assert check_email(address) == address


@pytest.mark.parametrize(
    "address",
    [
        "ops",
        "ops@",
        "@acme.example",
        "Ops <ops@acme.example>",
        "ops@acme.example, all@acme.example",
        "ops@acme.example\nBcc: all@acme.example",
        "a..b@acme.example",
        "x" * 65 + "@acme.example",
    ],
)
def test_anything_but_one_plain_address_is_refused(address: str) -> None:
    with pytest.raises(InvalidContact, match="not one plain address"):
        check_email(address)


def test_secrets_are_whsec_and_32_random_bytes() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert new_secret() != secret
    Webhook(secret)  # what a receiver's Standard Webhooks library takes
