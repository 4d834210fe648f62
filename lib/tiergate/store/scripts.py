"""Lua scripts shipped with the package, with the SHA1 that EVALSHA names them by."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from importlib import resources

__all__ = ["COMPLETE", "GATE", "REFUND", "Script"]


@dataclass(frozen=True, slots=True)
class Script:
    name: str
    source: str
    # Computed once, here: the gate script is 11 KB, and hashing it per call cost ~7 us.
    sha: str = field(init=False)

    def __post_init__(self) -> None:
        # SHA1 is what Redis names scripts by; it is an identifier here, not a security measure.
        digest = hashlib.sha1(self.source.encode("utf-8"), usedforsecurity=False).hexdigest()
        object.__setattr__(self, "sha", digest)


def _load(name: str) -> Script:
    return Script(name, resources.files(__package__).joinpath(name).read_text("utf-8"))


GATE = _load("gate.lua")
REFUND = _load("refund.lua")
COMPLETE = _load("complete.lua")
