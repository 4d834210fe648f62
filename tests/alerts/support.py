"""What the alert tests run against: a real HTTP receiver on loopback whose answers are
scripted, and a hot store whose pending alerts are a plain list (until the stores land).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from tiergate.clock import FakeClock
from tiergate.store.memory import MemoryStore
from tiergate.usage import AlertCrossing

__all__ = ["PendingStore", "Received", "Receiver", "crossing", "receiving", "sent_emails"]

PERIOD_START = 1_764_547_200_000  # 2025-12-01T00:00:00Z
PERIOD_END = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def crossing(account: str = "acme", label: str = "80", at_ms: int | None = None) -> AlertCrossing:
    return AlertCrossing(
        account_id=account,
        tier="pro",
        label=label,
        used=800 if label == "80" else 1000,
        limit=1000,
        period_start_ms=PERIOD_START,
        period_end_ms=PERIOD_END,
        at_ms=at_ms if at_ms is not None else PERIOD_START + 3_600_000,
    )


def sent_emails(region: str) -> list[Any]:
    """What moto's SES sent in `region` (its Message objects: source, destinations, subject,
    body), through moto's documented way of reading them back."""
    sent: list[Any] = ses_backends[DEFAULT_ACCOUNT_ID][region].sent_messages
    return sent


class PendingStore(MemoryStore):
    """The in-process store with its pending alerts replaced by a list the test fills: only
    `alerts`, `alerts_delivered` and `alerts_requeue` are what the delivery uses."""

    def __init__(self, clock: FakeClock, crossings: Sequence[AlertCrossing] = ()) -> None:
        super().__init__(clock)
        self.pending: list[AlertCrossing] = list(crossings)
        self.dropped: list[AlertCrossing] = []

    async def alerts(self, limit: int = 100) -> list[AlertCrossing]:
        return self.pending[:limit]

    async def alerts_delivered(self, crossings: Sequence[AlertCrossing]) -> None:
        ids = {c.id for c in crossings}
        self.dropped.extend(crossings)
        self.pending = [c for c in self.pending if c.id not in ids]

    async def alerts_requeue(self, crossings: Sequence[AlertCrossing]) -> None:
        ids = {c.id for c in crossings}
        self.pending = [c for c in self.pending if c.id not in ids] + list(crossings)


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """`answers`: the statuses to give, in order (then 204 for ever); `extra` headers per
    status; `hold` makes every request wait until it is set (a receiver that hangs)."""

    url: str = ""
    answers: list[int] = field(default_factory=list)
    headers: dict[int, dict[str, str]] = field(default_factory=dict)
    body: bytes = b""
    received: list[Received] = field(default_factory=list)
    hold: threading.Event | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_answer(self) -> int:
        with self.lock:
            return self.answers.pop(0) if self.answers else 204


@contextmanager
def receiving(receiver: Receiver | None = None) -> Iterator[Receiver]:
    """A ThreadingHTTPServer on a free loopback port, answering as `receiver` says."""
    scripted = receiver or Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            with scripted.lock:
                scripted.received.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
            if scripted.hold is not None:
                scripted.hold.wait(10)
            status = scripted.next_answer()
            self.send_response(status)
            for name, value in scripted.headers.get(status, {}).items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(scripted.body)))
            self.end_headers()
            # OSError: the sender stopped reading, as it should past its bound
            with contextlib.suppress(OSError):
                self.wfile.write(scripted.body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    scripted.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/usage"
    try:
        yield scripted
    finally:
        if scripted.hold is not None:
            scripted.hold.set()
        server.shutdown()
        server.server_close()
