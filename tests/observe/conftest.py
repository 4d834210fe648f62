"""Observability fixtures: the deployed Lambda handlers over apps with in-process stores (or a
Redis that is down), a frozen clock, and stdout read back as the JSON lines it must hold."""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from typing import Any

import pytest

from tiergate.clock import FakeClock

NOW_MS = 1_794_744_000_000  # 2026-11-15 12:00 UTC


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from the test, never from this process's environment."""
    for name in list(os.environ):
        if name.startswith(("TIERGATE_", "UPSTASH_", "STRIPE_", "POWERTOOLS_")) or name in (
            "LOG_LEVEL",
            "AWS_LAMBDA_LOG_LEVEL",
            "AWS_ENDPOINT_URL_DYNAMODB",
        ):
            monkeypatch.delenv(name)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW_MS)


@pytest.fixture
def redis_down() -> str:
    """The address of an Upstash endpoint that refuses connections: a loopback port that was
    free a moment ago and has nothing listening."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@dataclass
class Output:
    """What a handler wrote to stdout, as the JSON objects CloudWatch Logs would ingest."""

    text: str

    @property
    def objects(self) -> list[dict[str, Any]]:
        found = []
        for line in self.text.splitlines():
            if line.strip():
                parsed = json.loads(line)  # every line is JSON: a plain one fails here
                assert isinstance(parsed, dict), line
                found.append(parsed)
        return found

    @property
    def emf(self) -> list[dict[str, Any]]:
        """The EMF documents that count events (denials, degraded decisions, webhooks)."""
        return [o for o in self.objects if "_aws" in o and "route" not in o]

    @property
    def costs(self) -> list[dict[str, Any]]:
        """The EMF documents of what each gated request cost (one per request, plus one
        per third-party API it called)."""
        return [o for o in self.objects if "_aws" in o and "route" in o]

    @property
    def logs(self) -> list[dict[str, Any]]:
        return [o for o in self.objects if "_aws" not in o]

    def access(self) -> list[dict[str, Any]]:
        return [o for o in self.logs if o["logger"] == "tiergate.access"]


def read_stdout(capsys: pytest.CaptureFixture[str]) -> Output:
    return Output(capsys.readouterr().out)


def emf_document(
    *, namespace: str, service: str, dimension: str, value: str, metric: str, request_id: str
) -> dict[str, Any]:
    """The EMF document (CloudWatch's spec) for one count of `metric`, less its Timestamp."""
    return {
        "_aws": {
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": [["service", dimension]],
                    "Metrics": [{"Name": metric, "Unit": "Count"}],
                }
            ]
        },
        "service": service,
        dimension: value,
        metric: 1,
        "request_id": request_id,
    }


def without_timestamp(document: dict[str, Any]) -> dict[str, Any]:
    timestamp = document["_aws"].pop("Timestamp")
    assert isinstance(timestamp, int)
    assert timestamp > 1_700_000_000_000  # milliseconds since the epoch, as EMF wants
    return document
