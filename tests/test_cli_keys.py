"""`tiergate table create`, `keys ...` and `usage` against a DynamoDB server and local Upstash."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid

import pytest

from tiergate.cli import main
from tiergate.gate import Requirement
from tiergate.keys import parse_key
from tiergate.localredis.background import UpstashEndpoint
from tiergate.outcomes import Denied
from tiergate.settings import Settings
from tiergate.wiring import build_gate


@pytest.fixture
def env(
    monkeypatch: pytest.MonkeyPatch, dynamodb_endpoint: str, upstash: UpstashEndpoint
) -> dict[str, str]:
    for name in list(os.environ):
        if name.startswith(("TIERGATE_", "UPSTASH_", "STRIPE_")):
            monkeypatch.delenv(name)
    values = {
        "TIERGATE_TABLE": f"cli-{uuid.uuid4().hex[:8]}",
        "TIERGATE_REDIS_NAMESPACE": f"cli{uuid.uuid4().hex[:8]}",
        "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_endpoint,
        "TIERGATE_DYNAMODB_TIMEOUT": "10",  # DynamoDB Local on a busy CI machine, not AWS
        "UPSTASH_REDIS_REST_URL": upstash.url,
        "UPSTASH_REDIS_REST_TOKEN": upstash.token,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


def test_the_key_lifecycle(env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "table", "create")[1] == [
        f"table {env['TIERGATE_TABLE']} created, TTL on `ttl`"
    ]
    assert "already exists" in run(capsys, "table", "create")[1][0]

    code, out, _ = run(capsys, "keys", "create", "--account", "acme", "--tier", "pro")
    assert code == 0
    key = out[-1]
    parsed = parse_key(key)
    assert parsed is not None
    assert out[0] == "account acme on tier pro"

    code, out, _ = run(capsys, "keys", "list", "--account", "acme")
    assert code == 0
    assert parsed.key_id in out[1]
    assert "live" in out[1]

    code, out, _ = run(capsys, "usage", key)
    assert "used     0 of 50,000 (50,000 left)" in out

    code, out, _ = run(capsys, "keys", "rotate", key, "--grace", "1h")
    assert code == 0
    new_key = out[-1]
    assert parse_key(new_key) is not None
    assert new_key != key
    listing = run(capsys, "keys", "list", "--account", "acme")[1]
    assert any(parsed.key_id in line and "expires" in line for line in listing)

    code, out, _ = run(capsys, "keys", "revoke", parsed.key_id, "--account", "acme")
    assert out == [f"revoked key {parsed.key_id} of account acme"]


def test_a_revocation_holds_on_the_next_request(
    env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    def slug_of(key: str) -> str:
        async def admit() -> str:
            gate = build_gate(Settings())  # a fresh container: only Redis and the table know
            try:
                outcome = await gate.admit(key, Requirement())
            finally:
                await gate.store.aclose()
            return outcome.slug if isinstance(outcome, Denied) else "admitted"

        return asyncio.run(admit())

    run(capsys, "table", "create")
    key = run(capsys, "keys", "create", "--account", "acme")[1][-1]
    assert slug_of(key) == "admitted"
    run(capsys, "keys", "revoke", key)
    assert slug_of(key) == "revoked-key"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["keys", "list", "--account", "nobody"], "no account 'nobody'"),
        (["keys", "create", "--account", "a", "--tier", "gold"], "unknown tier 'gold'"),
        (["keys", "revoke", "abcdef123456"], "give --account"),
        (["usage", "nobody"], "not an API key"),
    ],
)
def test_mistakes_are_one_line_and_exit_2(
    env: dict[str, str], capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    run(capsys, "table", "create")
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert err.startswith("tiergate: error: ")
    assert message in err
    assert "Traceback" not in err


def test_keys_need_a_table(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TIERGATE_TABLE")
    code, _, err = run(capsys, "keys", "create", "--account", "a")
    assert code == 2
    assert "set TIERGATE_TABLE" in err
    code, _, err = run(capsys, "table", "create")
    assert code == 2
    assert "--table NAME" in err


def test_the_installed_command_prints_the_key_alone_on_its_last_line(
    env: dict[str, str],
) -> None:
    def tiergate(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tiergate", *argv],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    assert tiergate("table", "create").returncode == 0
    done = tiergate("keys", "create", "--tier", "pro", "--account", "acme")
    assert done.returncode == 0, done.stderr
    assert parse_key(done.stdout.splitlines()[-1]) is not None
