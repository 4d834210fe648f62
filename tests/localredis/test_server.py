"""The local Upstash REST server against a real redis-server, over real loopback sockets."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from typing import Any

import httpx
import pytest
from upstash_redis.asyncio import Redis
from upstash_redis.errors import UpstashError

from tiergate.errors import ConfigError, TiergateError
from tiergate_tools.localredis.background import serve_in_thread
from tiergate_tools.localredis.binary import (
    RedisServerNotFound,
    find_redis_server,
    free_port,
    ping,
    spawn_redis_server,
)
from tiergate_tools.localredis.main import parse_redis_address
from tiergate_tools.localredis.server import create_app

from .conftest import TOKEN

B64 = {"Upstash-Encoding": "base64"}
NESTED_LUA = "return {1, 'two', {3, {'four', redis.call('GET', KEYS[1])}}, ARGV[1]}"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


async def command(http: httpx.AsyncClient, *args: Any, **headers: str) -> httpx.Response:
    return await http.post("/", json=list(args), headers=headers)


# -- single commands and result shapes --------------------------------------------------


async def test_single_command_round_trip(http: httpx.AsyncClient, key: str) -> None:
    set_reply = await command(http, "SET", key, "v")
    get_reply = await command(http, "get", key)

    assert (set_reply.status_code, set_reply.json()) == (200, {"result": "OK"})
    assert (get_reply.status_code, get_reply.json()) == (200, {"result": "v"})


async def test_nil_integers_and_arrays_without_encoding(http: httpx.AsyncClient, key: str) -> None:
    await command(http, "RPUSH", f"{key}l", "a", "b")

    assert (await command(http, "GET", f"{key}missing")).json() == {"result": None}
    assert (await command(http, "INCRBY", f"{key}n", 41)).json() == {"result": 41}
    assert (await command(http, "INCR", f"{key}n")).json() == {"result": 42}
    assert (await command(http, "MGET", f"{key}n", f"{key}missing")).json() == {
        "result": ["42", None]
    }
    assert (await command(http, "LRANGE", f"{key}l", 0, -1)).json() == {"result": ["a", "b"]}
    assert (await command(http, "PING")).json() == {"result": "PONG"}


async def test_base64_encodes_every_string_but_ok(http: httpx.AsyncClient, key: str) -> None:
    assert (await command(http, "SET", key, "héllo", **B64)).json() == {"result": "OK"}
    assert (await command(http, "GET", key, **B64)).json() == {"result": b64("héllo")}
    assert (await command(http, "PING", **B64)).json() == {"result": b64("PONG")}
    assert (await command(http, "INCR", f"{key}n", **B64)).json() == {"result": 1}
    assert (await command(http, "GET", f"{key}missing", **B64)).json() == {"result": None}
    assert (await command(http, "MGET", key, f"{key}missing", **B64)).json() == {
        "result": [b64("héllo"), None]
    }


async def test_base64_is_binary_safe(http: httpx.AsyncClient, key: str) -> None:
    value = bytes(range(256))
    # The path form takes a POST body as the last argument, raw bytes and all.
    stored = await http.post(f"/set/{key}", content=value)
    fetched = await command(http, "GET", key, **B64)

    assert stored.json() == {"result": "OK"}
    assert base64.b64decode(fetched.json()["result"]) == value


async def test_numbers_and_booleans_go_to_redis_as_their_json_text(
    http: httpx.AsyncClient, key: str
) -> None:
    await command(http, "SET", f"{key}f", 1.5)
    await command(http, "SET", f"{key}b", True)
    await command(http, "SET", f"{key}i", 10)
    await command(http, "EXPIRE", f"{key}i", 100)

    assert (await command(http, "GET", f"{key}f")).json() == {"result": "1.5"}
    assert (await command(http, "GET", f"{key}b")).json() == {"result": "true"}
    assert (await command(http, "INCRBYFLOAT", f"{key}i", 0.5)).json() == {"result": "10.5"}
    assert 0 < (await command(http, "TTL", f"{key}i")).json()["result"] <= 100


async def test_redis_error_is_400_with_its_text(http: httpx.AsyncClient, key: str) -> None:
    await command(http, "SET", key, "not a number")
    reply = await command(http, "INCR", key)

    assert reply.status_code == 400
    assert reply.json() == {"error": "ERR value is not an integer or out of range"}


async def test_path_form(http: httpx.AsyncClient, key: str) -> None:
    path_key = f"{key}a%2Fb"  # %2F stays inside the argument: the key is "...a/b"
    assert (await http.get(f"/set/{path_key}/v1")).json() == {"result": "OK"}
    assert (await http.get(f"/get/{path_key}")).json() == {"result": "v1"}
    assert (await command(http, "GET", f"{key}a/b")).json() == {"result": "v1"}
    # Query parameters are appended as arguments: SET k v EX 100.
    assert (await http.post(f"/set/{key}t?EX=100", content=b"v2")).json() == {"result": "OK"}
    assert 0 < (await command(http, "TTL", f"{key}t")).json()["result"] <= 100


async def test_refuses_commands_that_would_change_a_pooled_connection(
    http: httpx.AsyncClient,
) -> None:
    for name in ("MULTI", "select", "HELLO", "SUBSCRIBE"):
        reply = await command(http, name, "1")
        assert reply.status_code == 400
        assert "not supported over REST" in reply.json()["error"]


# -- Lua --------------------------------------------------------------------------------


async def test_eval_returns_nested_tables(http: httpx.AsyncClient, key: str) -> None:
    await command(http, "SET", key, "five")

    plain = await command(http, "EVAL", NESTED_LUA, 1, key, "six")
    encoded = await command(http, "EVAL", NESTED_LUA, 1, key, "six", **B64)
    missing = await command(http, "EVAL", NESTED_LUA, 1, f"{key}missing", "six")

    assert plain.json() == {"result": [1, "two", [3, ["four", "five"]], "six"]}
    assert encoded.json() == {
        "result": [1, b64("two"), [3, [b64("four"), b64("five")]], b64("six")]
    }
    # A missing key is Lua false, which redis returns as nil inside the table.
    assert missing.json() == {"result": [1, "two", [3, ["four", None]], "six"]}


async def test_evalsha_noscript_then_script_load(http: httpx.AsyncClient, key: str) -> None:
    script = f"return 'loaded-{key}'"
    sha = hashlib.sha1(script.encode()).hexdigest()  # noqa: S324 - the name redis uses

    before = await command(http, "EVALSHA", sha, 0)
    loaded = await command(http, "SCRIPT", "LOAD", script)
    after = await command(http, "EVALSHA", sha, 0)

    assert before.status_code == 400
    assert before.json()["error"].startswith("NOSCRIPT")
    assert loaded.json() == {"result": sha}
    assert after.json() == {"result": f"loaded-{key}"}


# -- pipeline and multi-exec ------------------------------------------------------------


async def test_pipeline_carries_a_failing_command_in_the_middle(
    http: httpx.AsyncClient, key: str
) -> None:
    reply = await http.post(
        "/pipeline",
        json=[
            ["SET", key, "a"],
            ["INCR", key],
            ["SELECT", "2"],
            ["APPEND", key, "b"],
            ["GET", key],
        ],
    )

    assert reply.status_code == 200
    assert reply.json() == [
        {"result": "OK"},
        {"error": "ERR value is not an integer or out of range"},
        {"error": "ERR command 'SELECT' is not supported over REST"},
        {"result": 2},
        {"result": "ab"},
    ]


async def test_pipeline_with_base64(http: httpx.AsyncClient, key: str) -> None:
    reply = await http.post(
        "/pipeline", json=[["SET", key, "x"], ["GET", key], ["STRLEN", key]], headers=B64
    )

    assert reply.json() == [{"result": "OK"}, {"result": b64("x")}, {"result": 1}]


async def test_multi_exec_is_atomic(http: httpx.AsyncClient, key: str) -> None:
    x, y = f"{key}x", f"{key}y"
    transaction = [["INCR", x], ["INCR", y], ["MGET", x, y]]

    replies = await asyncio.gather(*(http.post("/multi-exec", json=transaction) for _ in range(32)))

    seen = set()
    for reply in replies:
        assert reply.status_code == 200
        incr_x, incr_y, mget = (entry["result"] for entry in reply.json())
        # No other transaction ran between this one's INCRs and its MGET.
        assert incr_x == incr_y
        assert mget == [str(incr_x), str(incr_x)]
        seen.add(incr_x)
    assert seen == set(range(1, 33))


async def test_multi_exec_runtime_error_is_per_command(http: httpx.AsyncClient, key: str) -> None:
    reply = await http.post(
        "/multi-exec", json=[["SET", key, "a"], ["INCR", key], ["GET", key]], headers=B64
    )

    assert reply.status_code == 200
    assert reply.json() == [
        {"result": "OK"},
        {"error": "ERR value is not an integer or out of range"},
        {"result": b64("a")},
    ]


async def test_multi_exec_queueing_error_runs_nothing(http: httpx.AsyncClient, key: str) -> None:
    reply = await http.post("/multi-exec", json=[["SET", key, "1"], ["SET", key]])

    assert reply.status_code == 400
    assert reply.json()["error"].startswith("EXECABORT")
    assert "wrong number of arguments" in reply.json()["error"]
    assert (await command(http, "GET", key)).json() == {"result": None}


# -- the real upstash-redis client ------------------------------------------------------


async def test_upstash_client_commands(upstash_client: Redis, key: str) -> None:
    assert await upstash_client.set(key, "v")
    assert await upstash_client.get(key) == "v"
    assert await upstash_client.get(f"{key}missing") is None
    assert await upstash_client.incr(f"{key}n") == 1
    assert await upstash_client.ping() == "PONG"
    assert await upstash_client.eval(NESTED_LUA, [key], ["six"]) == [
        1,
        "two",
        [3, ["four", "v"]],
        "six",
    ]


async def test_upstash_client_scripts(upstash_client: Redis, key: str) -> None:
    script = f"return ARGV[1] .. '-{key}'"
    sha = hashlib.sha1(script.encode()).hexdigest()  # noqa: S324 - the name redis uses

    with pytest.raises(UpstashError, match="NOSCRIPT"):
        await upstash_client.evalsha(sha, [], ["a"])
    assert await upstash_client.script_load(script) == sha
    assert await upstash_client.evalsha(sha, [], ["a"]) == f"a-{key}"


async def test_upstash_client_pipeline_and_multi(upstash_client: Redis, key: str) -> None:
    pipeline = upstash_client.pipeline()
    pipeline.set(key, "1")
    pipeline.incrby(key, 4)
    pipeline.get(key)
    transaction = upstash_client.multi()
    transaction.incr(key)
    transaction.get(key)

    assert await pipeline.exec() == [True, 5, "5"]
    assert await transaction.exec() == [6, "6"]


async def test_upstash_client_wrong_token(rest_url: str) -> None:
    client = Redis(rest_url, "wrong", rest_retries=0, allow_telemetry=False)
    try:
        with pytest.raises(UpstashError, match="Unauthorized"):
            await client.ping()
    finally:
        await client.close()


async def test_64_concurrent_client_requests(upstash_client: Redis, key: str) -> None:
    results = await asyncio.gather(*(upstash_client.incr(key) for _ in range(64)))

    assert sorted(results) == list(range(1, 65))
    assert await upstash_client.get(key) == "64"


# -- auth, malformed requests, failures -------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN}x"},
    ],
)
async def test_wrong_or_missing_token_is_401(rest_url: str, headers: dict[str, str]) -> None:
    async with httpx.AsyncClient(base_url=rest_url, headers=headers) as client:
        for path in ("/", "/pipeline", "/multi-exec"):
            reply = await client.post(path, json=[["PING"]] if path != "/" else ["PING"])
            assert (reply.status_code, reply.json()) == (401, {"error": "Unauthorized"})
        reply = await client.get("/ping")
        assert (reply.status_code, reply.json()) == (401, {"error": "Unauthorized"})


async def test_token_query_parameter(rest_url: str) -> None:
    async with httpx.AsyncClient(base_url=rest_url) as client:
        assert (await client.get("/ping", params={"_token": TOKEN})).json() == {"result": "PONG"}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/", b"not json"),
        ("/", b""),
        ("/", b"\xff\xfe\x00garbage"),
        ("/", b'{"command": "GET"}'),
        ("/", b'"PING"'),
        ("/", b"[]"),
        ("/", b'["GET", null]'),
        ("/", b'["GET", ["nested"]]'),
        ("/", b'["SET", "k", {"a": 1}]'),
        ("/", b"[" * 100_000),
        ("/pipeline", b'{"a": 1}'),
        ("/pipeline", b'["PING"]'),
        ("/pipeline", b"[[]]"),
        ("/pipeline", b'[["PING"], 7]'),
        ("/multi-exec", b'[["SET", "k"'),
        ("/multi-exec", b'[["MULTI"]]'),
    ],
)
async def test_malformed_body_is_400_with_a_message(
    http: httpx.AsyncClient, path: str, body: bytes
) -> None:
    reply = await http.post(path, content=body)

    assert reply.status_code == 400
    error = reply.json()["error"]
    assert isinstance(error, str)
    assert error.startswith("ERR ")


async def test_unsupported_method_is_405_json(http: httpx.AsyncClient) -> None:
    reply = await http.delete("/get/k")

    assert (reply.status_code, reply.json()) == (405, {"error": "Method Not Allowed"})


async def test_64_concurrent_requests_each_get_a_connection(
    http: httpx.AsyncClient, key: str
) -> None:
    """64 BLPOPs block in redis at once; one shared connection would deadlock them."""
    lists = [f"{key}q{i}" for i in range(64)]
    waiting = [asyncio.ensure_future(command(http, "BLPOP", name, 10)) for name in lists]

    deadline = time.monotonic() + 10
    while await _blocked_clients(http) < 64:  # bounded polling: until all 64 are parked
        assert time.monotonic() < deadline, "the 64 BLPOPs never blocked together"
        await asyncio.sleep(0.01)
    pushed = await http.post("/pipeline", json=[["RPUSH", name, f"v{name}"] for name in lists])
    replies = await asyncio.gather(*waiting)

    assert pushed.json() == [{"result": 1}] * 64
    assert [r.status_code for r in replies] == [200] * 64
    assert [r.json()["result"] for r in replies] == [[name, f"v{name}"] for name in lists]


async def _blocked_clients(http: httpx.AsyncClient) -> int:
    info = (await command(http, "INFO", "clients")).json()["result"]
    line = next(x for x in info.splitlines() if x.startswith("blocked_clients:"))
    return int(line.partition(":")[2])


async def test_unreachable_redis_is_503_json() -> None:
    with serve_in_thread(create_app("127.0.0.1", free_port(), TOKEN)) as url:
        async with httpx.AsyncClient(base_url=url) as client:
            reply = await client.post(
                "/", json=["PING"], headers={"Authorization": f"Bearer {TOKEN}"}
            )

    assert reply.status_code == 503
    assert reply.json()["error"].startswith("ERR redis at 127.0.0.1:")


async def test_app_without_lifespan_answers_503(redis_addr: tuple[str, int]) -> None:
    transport = httpx.ASGITransport(app=create_app(*redis_addr, TOKEN))
    async with httpx.AsyncClient(transport=transport, base_url="http://local") as client:
        reply = await client.post("/", json=["PING"], headers={"Authorization": f"Bearer {TOKEN}"})

    assert reply.status_code == 503
    assert "lifespan" in reply.json()["error"]


# -- redis-server binary and the CLI's address parsing ----------------------------------


def test_find_redis_server_reports_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")

    with pytest.raises(RedisServerNotFound, match="apt-get install redis-server") as caught:
        find_redis_server()
    assert isinstance(caught.value, RuntimeError)
    assert isinstance(caught.value, TiergateError)


def test_find_redis_server_override() -> None:
    assert find_redis_server(find_redis_server()) == find_redis_server()
    with pytest.raises(RedisServerNotFound, match="not an executable"):
        find_redis_server("/nonexistent/redis-server")


def test_spawned_redis_server_stops_on_exit() -> None:
    with spawn_redis_server() as (host, port):
        assert host == "127.0.0.1"
        assert ping(host, port)
    assert not ping(host, port)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("127.0.0.1:6379", ("127.0.0.1", 6379)), ("[::1]:7000", ("::1", 7000))],
)
def test_parse_redis_address(text: str, expected: tuple[str, int]) -> None:
    assert parse_redis_address(text) == expected


@pytest.mark.parametrize("text", ["localhost", ":6379", "host:", "host:0", "host:port", "h:70000"])
def test_parse_redis_address_rejects(text: str) -> None:
    with pytest.raises(ConfigError, match="HOST:PORT"):
        parse_redis_address(text)
