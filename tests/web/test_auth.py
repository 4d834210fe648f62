"""401: the key is checked for shape and checksum before any I/O; unknown keys are cached."""

from __future__ import annotations

import pytest

from tiergate.keys import KEY_LENGTH, generate_key

from .conftest import Harness, assert_problem


def _flip(key: str, at: int) -> str:
    return key[:at] + ("B" if key[at] == "A" else "A") + key[at + 1 :]


@pytest.mark.parametrize(
    ("header", "slug"),
    [
        pytest.param(None, "missing-key", id="missing"),
        pytest.param("", "missing-key", id="empty"),
        pytest.param("x" * 10_240, "invalid-key", id="huge-10kB"),
        # 19 two-byte characters: the right length once decoded as latin-1, but not ASCII
        pytest.param("tg_test_" + "é" * 19, "invalid-key", id="non-ascii"),
        pytest.param("tg_test_too_short", "invalid-key", id="short"),
        pytest.param("tg_prod_" + "A" * (KEY_LENGTH - 8), "invalid-key", id="unknown-prefix"),
    ],
)
async def test_malformed_key_is_401_without_io(h: Harness, header: str | None, slug: str) -> None:
    key = None if header is None else header.encode("utf-8")
    response = await h.call("/v1/hello", key)
    assert_problem(response, 401, slug)
    assert h.registry.reads == 0


@pytest.mark.parametrize("at", [8, 25, KEY_LENGTH - 1])
async def test_one_flipped_character_fails_the_checksum(h: Harness, at: int) -> None:
    key = await h.add_account("free")
    assert (await h.call("/v1/hello", key)).status_code == 200
    reads = h.registry.reads

    assert_problem(await h.call("/v1/hello", _flip(key, at)), 401, "invalid-key")
    assert h.registry.reads == reads  # rejected by the checksum alone


async def test_key_never_issued_is_401_and_read_from_the_registry_once(h: Harness) -> None:
    stranger = generate_key("test")

    first = await h.call("/v1/hello", stranger)
    assert_problem(first, 401, "invalid-key")
    assert h.registry.reads == 1

    second = await h.call("/v1/hello", stranger)
    assert_problem(second, 401, "invalid-key")
    assert h.registry.reads == 1  # the negative answer was cached in the hot store


async def test_live_key_against_development_gate_is_wrong_environment(h: Harness) -> None:
    live = generate_key("live")
    body = assert_problem(await h.call("/v1/hello", live), 401, "wrong-environment")
    assert "live" in body["detail"]
    assert "test" in body["detail"]
    assert h.registry.reads == 0


async def test_valid_key_is_admitted(h: Harness) -> None:
    key = await h.add_account("free")
    response = await h.call("/v1/hello", key)
    assert response.status_code == 200
    assert response.json() == {"message": "hello", "tier": "free"}
