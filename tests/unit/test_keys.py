from __future__ import annotations

import pytest

from tiergate.keys import KEY_LENGTH, generate_key, key_digest, parse_key


def test_generated_key_parses_with_its_digest() -> None:
    key = generate_key("live")
    parsed = parse_key(key)
    assert key.startswith("tg_live_")
    assert len(key) == KEY_LENGTH
    assert parsed is not None
    assert parsed.env == "live"
    assert parsed.digest == key_digest(key)
    assert parsed.key_id == parsed.digest[:12]


def test_keys_are_unique() -> None:
    assert len({generate_key("test") for _ in range(1000)}) == 1000


def _flip(key: str, at: int) -> str:
    swapped = "B" if key[at] == "A" else "A"
    return key[:at] + swapped + key[at + 1 :]


@pytest.mark.parametrize("at", [8, 20, KEY_LENGTH - 7, KEY_LENGTH - 1])
def test_one_mistyped_character_is_rejected(at: int) -> None:
    assert parse_key(_flip(generate_key("test"), at)) is None


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "tg_test_",
        "x" * 10_000,
        "tg_test_" + "é" * 38,
        "tg_prod_" + "A" * 38,
        "tg_test_" + "A" * 37 + "!",
        " " + generate_key("test")[1:],
    ],
)
def test_malformed_keys_are_rejected(raw: str | None) -> None:
    assert parse_key(raw) is None


def test_transposed_characters_are_rejected() -> None:
    key = generate_key("test")
    i = next(i for i in range(8, KEY_LENGTH - 7) if key[i] != key[i + 1])
    swapped = key[:i] + key[i + 1] + key[i] + key[i + 2 :]
    assert parse_key(swapped) is None
