"""API keys: recognisable, self-checking, stored only as a SHA-256 digest.

Shape: ``tg_<env>_<32 random base62><6 base62 checksum>``, e.g. ``tg_live_…``. The checksum
(CRC32 of everything before it) lets the gate reject a mistyped or made-up key with no I/O,
and the prefix lets secret scanners and people recognise a leaked key. The key itself is
shown once, at creation; only its digest is stored, and only ``key_id`` (a digest prefix)
is ever logged.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import zlib
from dataclasses import dataclass
from typing import Literal

__all__ = ["KeyEnv", "ParsedKey", "generate_key", "key_digest", "parse_key"]

KeyEnv = Literal["live", "test"]

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ALPHABET_SET = frozenset(_ALPHABET)
_RANDOM_LEN = 32  # 32 base62 characters carry about 190 bits
_CHECKSUM_LEN = 6  # base62 of a 32-bit CRC fits in 6 characters
_PREFIXES: dict[str, KeyEnv] = {"tg_live_": "live", "tg_test_": "test"}
KEY_LENGTH = 8 + _RANDOM_LEN + _CHECKSUM_LEN


@dataclass(frozen=True, slots=True)
class ParsedKey:
    env: KeyEnv
    digest: str  # hex SHA-256 of the whole key

    @property
    def key_id(self) -> str:
        """The short, loggable name of the key."""
        return self.digest[:12]


def generate_key(env: KeyEnv) -> str:
    """A new key; the caller shows it once and stores `key_digest(key)`."""
    prefix = f"tg_{env}_"
    body = prefix + "".join(secrets.choice(_ALPHABET) for _ in range(_RANDOM_LEN))
    return body + _checksum(body)


# Keys parsed lately: a known key skips its checksum and SHA-256 (14-20 us a request).
# Bounded, oldest out first: a flood of made-up keys that pass the checksum churns it (each
# then costs what it did before the cache) but cannot grow it. Only keys that parse are
# kept; the raw key is already in the process's memory for as long as its request runs.
_PARSED: dict[str, ParsedKey] = {}
_PARSED_MOST = 4096


def parse_key(raw: str | None) -> ParsedKey | None:
    """The parsed key, or None when it cannot be one of ours. Pure: no I/O."""
    if raw is None or len(raw) != KEY_LENGTH:
        return None
    found = _PARSED.get(raw)
    if found is not None:
        return found
    parsed = _parse(raw)
    if parsed is not None:
        if len(_PARSED) >= _PARSED_MOST:
            del _PARSED[next(iter(_PARSED))]
        _PARSED[raw] = parsed
    return parsed


def _parse(raw: str) -> ParsedKey | None:
    if not raw.isascii():
        return None
    env = _PREFIXES.get(raw[:8])
    if env is None or not _ALPHABET_SET.issuperset(raw[8:]):
        return None
    body, checksum = raw[:-_CHECKSUM_LEN], raw[-_CHECKSUM_LEN:]
    if not hmac.compare_digest(checksum, _checksum(body)):
        return None
    return ParsedKey(env=env, digest=key_digest(raw))


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode("ascii")).hexdigest()


def _checksum(body: str) -> str:
    value = zlib.crc32(body.encode("ascii"))
    chars = []
    for _ in range(_CHECKSUM_LEN):
        value, digit = divmod(value, 62)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))
