"""Lua scripts with shebang flags that Upstash accepts and redis-server refuses.

upstash-ratelimit (1.2) sends scripts that begin ``#!lua flags=allow-key-locking``; Upstash
runs them, redis-server answers ``ERR Unexpected flag in script shebang``. So the flag is
taken out before the script reaches redis-server, which then names the script by the SHA1
of the rewritten text. The client still names it by the SHA1 of what it sent, so this keeps
the client's SHA -> redis's SHA for every rewritten script, and translates:

* ``EVAL``/``EVAL_RO`` and ``SCRIPT LOAD`` send the rewritten script (and record its SHA);
  ``SCRIPT LOAD`` answers the client's SHA, as Upstash would;
* ``EVALSHA``/``EVALSHA_RO`` and ``SCRIPT EXISTS`` ask redis for the rewritten SHA.

The map lives in this process: after a restart of the REST server, an EVALSHA of a
rewritten script answers NOSCRIPT, and a client then sends EVAL (or SCRIPT LOAD) again,
which is what every Upstash client does on NOSCRIPT. Unflagged scripts are not touched.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from .resp import Arg

__all__ = ["UPSTASH_ONLY_FLAGS", "ScriptShas", "strip_upstash_flags"]

UPSTASH_ONLY_FLAGS = frozenset({"allow-key-locking"})
_LIMIT = 10_000  # rewritten scripts remembered; the oldest are forgotten beyond it


def strip_upstash_flags(script: bytes) -> bytes | None:
    """`script` without the shebang flags redis-server refuses, or None if it has none."""
    if not script.startswith(b"#!"):
        return None
    line, newline, rest = script.partition(b"\n")
    carriage = b"\r" if line.endswith(b"\r") else b""
    words = line.removesuffix(b"\r").split(b" ")
    kept: list[bytes] = []
    changed = False
    for word in words:
        if not word.startswith(b"flags="):
            kept.append(word)
            continue
        flags = [f for f in word.removeprefix(b"flags=").split(b",") if f]
        remaining = [f for f in flags if f.decode("utf-8", "replace") not in UPSTASH_ONLY_FLAGS]
        changed = changed or len(remaining) != len(flags)
        if remaining:
            kept.append(b"flags=" + b",".join(remaining))
    if not changed:
        return None
    return b" ".join(kept) + carriage + newline + rest


class ScriptShas:
    """Rewrites script commands for redis-server and remembers the SHAs it changed."""

    def __init__(self) -> None:
        self._redis_sha: dict[str, str] = {}  # the client's SHA1 -> redis-server's

    def rewrite(self, command: Sequence[Arg]) -> tuple[list[Arg], bytes | None]:
        """The command as redis-server must get it, and the reply to answer instead of
        redis's (the client's SHA, for a SCRIPT LOAD that was rewritten), else None."""
        args = list(command)
        name = _word(args[0])
        if name in ("EVAL", "EVAL_RO") and len(args) > 1:
            rewritten = self._rewritten(args[1])
            if rewritten is not None:
                args[1] = rewritten[0]
        elif name in ("EVALSHA", "EVALSHA_RO") and len(args) > 1:
            args[1] = self._redis_sha.get(_word(args[1]).lower(), args[1])
        elif name == "SCRIPT" and len(args) > 2:
            sub = _word(args[1])
            if sub == "LOAD":
                rewritten = self._rewritten(args[2])
                if rewritten is not None:
                    args[2], client_sha = rewritten
                    return args, client_sha.encode("ascii")
            elif sub == "EXISTS":
                args[2:] = [self._redis_sha.get(_word(a).lower(), a) for a in args[2:]]
        return args, None

    def _rewritten(self, script: Arg) -> tuple[bytes, str] | None:
        """(the script for redis, the client's SHA), recording both SHAs; None: unchanged."""
        data = _bytes(script)
        stripped = strip_upstash_flags(data)
        if stripped is None:
            return None
        client_sha = hashlib.sha1(data).hexdigest()  # noqa: S324 - the name redis uses
        if client_sha not in self._redis_sha and len(self._redis_sha) >= _LIMIT:
            del self._redis_sha[next(iter(self._redis_sha))]
        self._redis_sha[client_sha] = hashlib.sha1(stripped).hexdigest()  # noqa: S324
        return stripped, client_sha


def _bytes(arg: Arg) -> bytes:
    if isinstance(arg, bytes):
        return arg
    if isinstance(arg, str):
        return arg.encode("utf-8", "surrogatepass")  # as encode_command sends it
    return str(arg).encode("ascii")


def _word(arg: Arg) -> str:
    return _bytes(arg).decode("utf-8", "replace").upper()
