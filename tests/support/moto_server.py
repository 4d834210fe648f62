"""moto's DynamoDB server (ThreadedMotoServer), started for the test session.

The benchmark counts DynamoDB calls against it, so the contract suite runs on it too: the
registry's requests go out as real HTTP, through botocore's serializers and moto's parsers.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from tiergate_tools.localredis.binary import free_port

__all__ = ["running_moto_server"]


@contextmanager
def running_moto_server() -> Iterator[str]:
    """moto's server on a free loopback port; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a log line per request otherwise
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
