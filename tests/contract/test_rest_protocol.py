"""The hot call and upstash-redis hold to one protocol: for the same command, the local Upstash
server receives the same bytes from both (request line, the headers that carry meaning, body).

A capturing TCP proxy sits between each client and `tiergate local-redis`; the store's own
scripts go over the lean connection (store/rest.py), and upstash-redis is asked to run the
same scripts with the same KEYS and ARGV.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tiergate.decision import Check
from tiergate.store import Charge
from tiergate.store.scripts import COMPLETE, GATE, REFUND
from tiergate.store.upstash import REQUEST_TTL_MS, UpstashStore, connect, gate_script_args
from tiergate_tools.localredis.background import UpstashEndpoint

from ..support.capture_proxy import CapturedRequest, CapturingProxy, capturing_proxy
from .conftest import NOW
from .test_hot_store import seed

NS = "proto"
INFLIGHT_TTL_MS = 60_000
# What the server reads: where the command goes, who sends it, how the answer is encoded,
# and the command itself. (User-Agent, Accept and the like differ and mean nothing to it.)
MEANINGFUL = (b"host", b"authorization", b"upstash-encoding", b"content-type", b"content-length")


@pytest.fixture
async def proxy(upstash: UpstashEndpoint) -> AsyncIterator[CapturingProxy]:
    async with capturing_proxy(upstash.url) as running:
        yield running


def wire(request: CapturedRequest) -> tuple[bytes, dict[bytes, bytes | None], bytes]:
    return (
        request.request_line,
        {name: request.header(name) for name in MEANINGFUL},
        request.body,
    )


CHECKS = [
    Check("digest-1", now_ms=NOW, request_id="r-plain"),
    Check(
        "digest-1",
        now_ms=NOW,
        min_rank=2,
        feature="exports",
        cost=5,
        idempotency_key="a" * 32,
        fingerprint="f" * 64,
        request_id="r-keyed",
        retry=True,
        route="/v1/items/{item_id}",
    ),
    # Free-form fields that JSON must escape, and UTF-8 that httpx writes as it is.
    Check("digest-1", request_id="r-odd", feature='quo"te\\', route="/v1/caf\u00e9/\t{x}"),
]


@pytest.mark.parametrize("check", CHECKS, ids=["plain", "keyed", "escaped"])
async def test_the_gate_call_is_what_upstash_redis_sends(
    proxy: CapturingProxy, upstash: UpstashEndpoint, check: Check
) -> None:
    store = UpstashStore.at(proxy.url, upstash.token, namespace=NS, timeout_s=5)
    await seed(store)
    redis = connect(proxy.url, upstash.token)
    await redis.script_load(GATE.source)

    before = len(proxy.requests)
    await store.check(check)
    keys, argv = gate_script_args(NS, check, INFLIGHT_TTL_MS)
    await redis.evalsha(GATE.sha, keys, argv)

    ours, theirs = proxy.requests[before:]
    assert wire(ours) == wire(theirs)
    assert ours.body.startswith(b'["EVALSHA","%s",1,' % GATE.sha.encode())
    await store.aclose()
    await redis.close()


async def test_eval_after_noscript_is_what_upstash_redis_sends(
    proxy: CapturingProxy, upstash: UpstashEndpoint
) -> None:
    store = UpstashStore.at(proxy.url, upstash.token, namespace=NS, timeout_s=5)
    await seed(store)
    redis = connect(proxy.url, upstash.token)
    check = CHECKS[1]

    await redis.script_flush()
    before = len(proxy.requests)
    await store.check(check)
    evalsha, eval_ = proxy.requests[before:]  # NOSCRIPT, then the script with its source
    await redis.script_flush()
    keys, argv = gate_script_args(NS, check, INFLIGHT_TTL_MS)
    with pytest.raises(Exception, match="NOSCRIPT"):
        await redis.evalsha(GATE.sha, keys, argv)
    await redis.eval(GATE.source, keys, argv)

    their_evalsha, their_eval = proxy.requests[before + 3 :]
    assert wire(evalsha) == wire(their_evalsha)
    assert wire(eval_) == wire(their_eval)
    await store.aclose()
    await redis.close()


async def test_complete_and_refund_are_what_upstash_redis_sends(
    proxy: CapturingProxy, upstash: UpstashEndpoint
) -> None:
    store = UpstashStore.at(proxy.url, upstash.token, namespace=NS, timeout_s=5)
    redis = connect(proxy.url, upstash.token)
    for script in (COMPLETE, REFUND):
        await redis.script_load(script.source)
    response = '200\n[["content-type","application/json"]]\nt{"caf\u00e9": "\\"x\\""}'
    charge = Charge("acct-1", NOW, 3, "b" * 32, 1, "/v1/hello", "api_overage")

    before = len(proxy.requests)
    await store.complete("r-1", "acct-1", "b" * 32, response)
    await store.refund("r-1", charge)
    await store.refund("r-2", None)
    ours = proxy.requests[before:]
    ttl, budget = 86_400_000, 32 * 2**20
    completed = [NS, "acct-1", "b" * 32, "r-1", response, str(ttl), str(budget)]
    refunded = [NS, "r-1", str(REQUEST_TTL_MS), "acct-1", str(NOW), "3", "b" * 32, "1"]
    await redis.evalsha(COMPLETE.sha, [], completed)
    await redis.evalsha(REFUND.sha, [], [*refunded, "/v1/hello", "api_overage"])
    await redis.evalsha(REFUND.sha, [], [NS, "r-2", str(REQUEST_TTL_MS)])
    theirs = proxy.requests[before + 3 :]

    assert [wire(r) for r in ours] == [wire(r) for r in theirs]
    await store.aclose()
    await redis.close()
