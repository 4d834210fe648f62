"""Settings refused at start-up: CRON_SECRET shorter than the README's 16 characters, and no
refusal that repeats a value it was given (the traceback is what Lambda and Vercel log)."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from tiergate.cli import main
from tiergate.config import Settings

MIN_CRON_SECRET = 16  # what the README asks for


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("TIERGATE_", "UPSTASH_", "STRIPE_")) or name in ("CRON_SECRET",):
            monkeypatch.delenv(name)


@pytest.mark.parametrize("secret", ["x", "hunter2", "a" * (MIN_CRON_SECRET - 1)])
def test_a_short_cron_secret_stops_start_up_without_repeating_it(
    monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    monkeypatch.setenv("CRON_SECRET", secret)
    with pytest.raises(ValidationError) as raised:
        Settings()
    said = str(raised.value)
    assert "CRON_SECRET needs 16 characters or more" in said
    assert f"the one set has {len(secret)}" in said
    assert repr(secret) not in said


def test_the_cli_says_it_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CRON_SECRET", "short-secret")
    assert main(["tiers"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tiergate: error: CRON_SECRET: Value error, CRON_SECRET needs 16")
    assert "short-secret" not in err
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("a" * MIN_CRON_SECRET, "a" * MIN_CRON_SECRET),
        ("", None),  # empty is unset, as before: the scheduled route answers 503
        (None, None),
    ],
)
def test_a_long_enough_or_empty_cron_secret_is_taken(
    monkeypatch: pytest.MonkeyPatch, given: str | None, kept: str | None
) -> None:
    if given is not None:
        monkeypatch.setenv("CRON_SECRET", given)
    secret = Settings().gate.cron_secret
    value = secret.get_secret_value() if secret is not None else None
    assert (value or None) == kept


def test_a_refused_setting_does_not_print_the_secrets_beside_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A model-level check used to carry every value read from the environment into its text.
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_live_do_not_print_me")
    monkeypatch.setenv("TIERGATE_PREFIX", "v1")
    with pytest.raises(ValidationError) as raised:
        Settings()
    assert "TIERGATE_PREFIX must start with '/'" in str(raised.value)
    assert "do_not_print" not in str(raised.value)
