"""The tiergate logger: JSON lines on stdout at its own level, whatever the root logger does."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI

from tiergate import Settings, install
from tiergate.clock import FakeClock
from tiergate.keys import generate_key, parse_key
from tiergate.observe import JsonFormatter, Observation, TextFormatter, bind, configure_logging
from tiergate.wiring import build

from .conftest import NOW_MS


@pytest.fixture
def pristine() -> Iterator[logging.Logger]:
    """The tiergate logger as a fresh process has it; restored afterwards."""
    logger = logging.getLogger("tiergate")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    logger.handlers.clear()
    logger.setLevel(logging.NOTSET)
    logger.propagate = True
    yield logger
    logger.handlers[:] = saved[0]
    logger.setLevel(saved[1])
    logger.propagate = saved[2]


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("tiergate", logging.WARNING, __file__, 1, message, args, None)
    made.__dict__.update(extra)
    return made


def test_a_line_has_the_requests_fields_and_the_records_extras() -> None:
    formatter = JsonFormatter("api")
    with bind(Observation("r-9", "webhook")):
        line = json.loads(formatter.format(record("stripe event=%s", "evt_1", outcome="applied")))
    timestamp = line.pop("timestamp")
    assert timestamp.endswith("+00:00")
    assert line == {
        "level": "WARN",  # Lambda's word, which its log-level filter knows
        "service": "webhook",  # the request's, over the formatter's default
        "logger": "tiergate",
        "request_id": "r-9",
        "message": "stripe event=evt_1",
        "outcome": "applied",
    }
    outside = json.loads(formatter.format(record("starting")))
    assert (outside["service"], outside["request_id"]) == ("api", None)


def test_an_exception_is_one_line_with_its_traceback() -> None:
    try:
        raise ValueError("bad")
    except ValueError:
        failed = record("failed")
        failed.exc_info = sys.exc_info()
    text = JsonFormatter("api").format(failed)
    assert "\n" not in text
    assert "ValueError: bad" in json.loads(text)["exception"]


def test_keys_are_written_as_their_key_id_wherever_they_appear() -> None:
    key = generate_key("live")
    parsed = parse_key(key)
    assert parsed is not None
    text = JsonFormatter("api").format(record("got %s", key, header=key, note=[key]))
    assert key not in text
    assert text.count(f"[key {parsed.key_id}]") == 3


def test_configuring_twice_leaves_one_handler_and_stops_propagation(
    pristine: logging.Logger,
) -> None:
    configure_logging("api", "INFO")
    configure_logging("webhook", "WARNING")
    assert len(pristine.handlers) == 1
    assert pristine.level == logging.WARNING
    assert pristine.propagate is False


def test_install_configures_the_logger_from_settings(
    pristine: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(log_level="info", service="edge")
    install(FastAPI(), settings, parts=build(settings, clock=FakeClock(NOW_MS)))
    logging.getLogger("tiergate.access").info("ready")
    line = json.loads(capsys.readouterr().out)
    assert (line["service"], line["message"], line["level"]) == ("edge", "ready", "INFO")


def test_log_json_false_leaves_the_logger_to_the_host(pristine: logging.Logger) -> None:
    settings = Settings(log_json=False)
    install(FastAPI(), settings, parts=build(settings, clock=FakeClock(NOW_MS)))
    assert pristine.handlers == []
    assert pristine.propagate is True


@pytest.mark.parametrize(
    ("environment", "level"),
    [
        pytest.param({}, "INFO", id="default"),
        pytest.param({"LOG_LEVEL": "debug"}, "DEBUG", id="LOG_LEVEL"),
        pytest.param({"AWS_LAMBDA_LOG_LEVEL": "WARN"}, "WARNING", id="lambda-warn"),
        pytest.param({"AWS_LAMBDA_LOG_LEVEL": "FATAL"}, "CRITICAL", id="lambda-fatal"),
        pytest.param(
            {"AWS_LAMBDA_LOG_LEVEL": "WARN", "POWERTOOLS_LOG_LEVEL": "INFO"}, "INFO",
            id="powertools-first",
        ),
        pytest.param(
            {"TIERGATE_LOG_LEVEL": "ERROR", "LOG_LEVEL": "INFO"}, "ERROR", id="tiergate-first"
        ),
    ],
)  # fmt: skip
def test_the_level_comes_from_the_environment_in_python_or_lambda_words(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], level: str
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert Settings().observe.log_level == level


def test_an_unknown_level_stops_start_up_with_the_variable_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOG_LEVEL", "verbose")
    with pytest.raises(ValueError, match=r"LOG_LEVEL[\s\S]*VERBOSE"):
        Settings()


def test_a_text_line_for_a_person_says_what_happened_in_a_few_words() -> None:
    formatter = TextFormatter()
    access = logging.LogRecord("tiergate.access", logging.INFO, __file__, 1, "%s %s %d",
                               ("GET", "/v1/hello", 200), None)  # fmt: skip
    access.__dict__.update(
        method="GET", path="/v1/hello", status=200, duration_ms=4.63, key_id="24aed480be2d",
        account="acct-1", outcome="admitted", route="/v1/hello", function_request_id=None,
    )  # fmt: skip
    line = formatter.format(access)
    assert line[12:] == "  GET /v1/hello 200  4.6 ms  key 24aed480be2d  account acct-1  admitted"
    assert (line[2], line[5], line[8]) == (":", ":", ".")  # the local time, to the millisecond
    warning = record("limiter unavailable key=%s", "24aed480be2d")  # WARNING
    assert formatter.format(warning)[12:] == "  WARNING  limiter unavailable key=24aed480be2d"


def test_a_text_line_never_carries_a_key_either() -> None:
    key = generate_key("test")
    line = TextFormatter().format(record("got %s", key, note=key))
    assert key not in line
    assert f"[key {parse_key(key).key_id}]" in line  # type: ignore[union-attr]


async def test_serve_s_terminal_settings_print_text_lines_and_no_emf(
    pristine: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(log_format="text", emf=False, access_log="all")
    app = FastAPI()

    @app.get("/v1/hi")
    def hi() -> dict[str, str]:
        return {"hi": "there"}

    install(app, settings, parts=build(settings))
    never_issued = generate_key("test")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get("/v1/hi", headers={"X-API-Key": never_issued})).status_code == 401
    printed = capsys.readouterr().out
    assert "GET /v1/hi 401" in printed, printed
    assert "invalid-key" in printed
    assert "{" not in printed  # no JSON line, no EMF document (a denial is counted as one)


async def test_a_text_line_cannot_be_forged_nor_drive_the_terminal(
    pristine: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    """The path is percent-decoded before it is logged: %0A would start a line of its own (a
    forged 200 under the real 404) and %1B an escape sequence. On the terminal both are
    written out as \\x0a and \\x1b."""
    settings = Settings(log_format="text", emf=False, access_log="all")
    app = FastAPI()
    install(app, settings, parts=build(settings))
    forged = "/nothing%0A04:28:38.901%20%20GET%20/v1/hello%20200%1B[2J"
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get(forged)).status_code == 404
    printed = capsys.readouterr().out
    assert printed.count("\n") == 1, printed  # one request, one line
    assert "\x1b" not in printed
    assert "/nothing\\x0a04:28:38.901  GET /v1/hello 200\\x1b[2J 404" in printed
