"""The one strict JSON reader: what json.loads accepts and tiergate refuses, and that each
refusal costs time linear in the document."""

from __future__ import annotations

import contextlib
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tiergate.errors import ConfigError, InvalidJSON, TierConfigError
from tiergate.jsontext import (
    MAX_DEPTH,
    MAX_NUMBER_CHARS,
    nesting_depth,
    parse_json,
    read_json,
    read_json_file,
)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ('{"tier": "free", "tier": "pro"}', "the name 'tier' appears twice in one object"),
        ('[{"a": {"b": 1, "b": 1}}]', "the name 'b' appears twice"),
        ("[NaN]", "NaN is not a number JSON allows"),
        ('{"price": Infinity}', "Infinity is not a number JSON allows"),
        ("[-Infinity]", "-Infinity is not a number JSON allows"),
        ("[1e400]", "the number '1e400' is out of range"),
        ("[-1E999999999]", "out of range"),
        ("[" + "9" * 5_000 + "]", "a number of 5,000 characters; at most 40 are read"),
        ("[0." + "1" * (MAX_NUMBER_CHARS - 1) + "]", f"characters; at most {MAX_NUMBER_CHARS}"),
        ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), f"nests deeper than {MAX_DEPTH} levels"),
        ('{"free": ', "not valid JSON: Expecting value"),
        ("", "not valid JSON"),
    ],
)
def test_what_json_loads_takes_and_the_reader_refuses(document: str, message: str) -> None:
    with pytest.raises(InvalidJSON, match=re.escape(message)):
        parse_json(document)
    with pytest.raises(InvalidJSON, match=re.escape(message)):
        parse_json(document.encode())


def test_the_bounds_themselves_are_read() -> None:
    deepest = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert nesting_depth(deepest.encode()) == MAX_DEPTH
    parse_json(deepest)
    longest = "-" + "9" * (MAX_NUMBER_CHARS - 1)
    assert parse_json(f"[{longest}, 1e308, -0.0]") == [int(longest), 1e308, -0.0]
    assert parse_json("  [1] ", max_size=6) == [1]
    with pytest.raises(InvalidJSON, match="larger than 5 bytes"):
        parse_json("  [1] ", max_size=5)


def test_the_size_is_counted_in_utf8_bytes() -> None:
    assert parse_json('["é"]', max_size=6) == ["é"]
    with pytest.raises(InvalidJSON, match="larger than 5 bytes"):
        parse_json('["é"]', max_size=5)  # 5 characters, 6 bytes


def test_bytes_must_be_utf8_and_a_str_may_carry_what_the_environment_escaped() -> None:
    with pytest.raises(InvalidJSON, match=r"not UTF-8 text \(byte 2\)"):
        parse_json(b'["\xff"]')
    assert parse_json('["\udcff"]') == ["\udcff"]  # os.environ's escape for byte 0xff


def test_brackets_and_escaped_quotes_inside_strings_are_not_nesting() -> None:
    inside = '[{"\\"[' * 10_000
    assert nesting_depth(json.dumps({"s": inside}).encode()) == 1
    assert parse_json(json.dumps({"s": inside})) == {"s": inside}


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


_TEXT = st.text(alphabet='[]{}"\\/ ab\n\u00e9\u2028')
_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=30,
)


@given(_VALUES, st.booleans())
def test_the_depth_counted_is_the_depth_json_reads(value: Any, ascii_only: bool) -> None:
    document = json.dumps(value, ensure_ascii=ascii_only)
    assert nesting_depth(document.encode()) == _depth(value)
    assert parse_json(document) == value


def _cost(document: bytes) -> float:
    """CPU seconds of this thread (other processes' load does not count) to refuse or read."""
    started = time.thread_time()
    with contextlib.suppress(InvalidJSON):
        parse_json(document)
    return time.thread_time() - started


@pytest.mark.parametrize(
    ("head", "unit"),
    [
        pytest.param(b'{"a": "', b'\\"', id="escaped-quotes-in-a-string-left-open"),  # was 45 s
        pytest.param(b"", b'\\"', id="escaped-quotes"),
        pytest.param(b"", b'"', id="quotes"),
        pytest.param(b"", b"[", id="open-brackets"),
        pytest.param(b"", b'{"a":1,"a":', id="repeated-names"),
        pytest.param(b"[", b"9", id="digits"),
    ],
)
def test_each_refusal_is_linear(head: bytes, unit: bytes) -> None:
    # Ten times the bytes must cost about ten times the time, not a hundred: measured as the
    # best of three, with room for noise (quadratic would be 10x past this bound).
    small, large = head + unit * 6_000, head + unit * 60_000
    ratio = min(_cost(large) for _ in range(3)) / max(min(_cost(small) for _ in range(3)), 1e-4)
    assert ratio < 30
    assert _cost(large) < 1.0


def test_configuration_callers_get_one_line_naming_the_origin(tmp_path: Path) -> None:
    with pytest.raises(TierConfigError, match=r"^TIERGATE_TIERS: the name 'a' appears twice"):
        read_json('{"a": 1, "a": 2}', "TIERGATE_TIERS", error=TierConfigError)
    bad = tmp_path / "prices.json"
    bad.write_bytes(b"[" * 100_000)
    with pytest.raises(ConfigError, match=f"^{bad}: nests deeper than {MAX_DEPTH} levels$"):
        read_json_file(bad, "prices file")
    with pytest.raises(ConfigError, match="cannot read prices file"):
        read_json_file(tmp_path / "missing.json", "prices file")
