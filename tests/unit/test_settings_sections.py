"""The settings' sections: each reads its own names from the environment, each field has one
owner, the gate's section holds only what the core reads, and `tiergate.Settings` (the
composite of them all) reads and refuses exactly what the one class before the split did.

The expected values, messages and refusals below were taken from that class (tiergate 0.1.0
before the sections), for the same environment and keywords.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError, model_validator

from tiergate.alerts.policy import InvalidContact
from tiergate.alerts.settings import AlertSettings
from tiergate.billing.settings import BillingSettings
from tiergate.config import FIELDS, SECTIONS, Settings, owners
from tiergate.errors import ConfigError
from tiergate.meter.settings import MeterSettings
from tiergate.observe.settings import ObserveSettings
from tiergate.schedule.settings import ScheduleSettings
from tiergate.settings import GateSettings, Section
from tiergate.wiring import build
from tiergate_tools.costs.settings import CostSettings

LIB = Path(__file__).resolve().parents[2] / "lib"

# Every variable, what it is set to, the section and field that read it, and the value the
# one class read from it. Lambda's level name and a path-like namespace on purpose.
ENVIRONMENT: list[tuple[str, str, type[Section], str, object]] = [
    ("TIERGATE_ENV", "production", GateSettings, "env", "production"),
    ("TIERGATE_TIERS", '{"free": {"limit": 10, "price": 0, "burst": 1}}', GateSettings, "tiers",
     '{"free": {"limit": 10, "price": 0, "burst": 1}}'),
    ("TIERGATE_TABLE", "tg-table", GateSettings, "table", "tg-table"),
    ("TIERGATE_PREFIX", "/api", GateSettings, "prefix", "/api"),
    ("TIERGATE_REDIS_TIMEOUT", "0.5", GateSettings, "redis_timeout", 0.5),
    ("TIERGATE_REDIS_RETRY_BUDGET", "2", GateSettings, "redis_retry_budget", 2.0),
    ("TIERGATE_REDIS_NAMESPACE", "ns1", GateSettings, "redis_namespace", "ns1"),
    ("TIERGATE_PAST_DUE_GRACE_DAYS", "1.5", GateSettings, "past_due_grace_days", 1.5),
    ("TIERGATE_IDEMPOTENCY_TTL", "60", GateSettings, "idempotency_ttl", 60),
    ("TIERGATE_HOT_STATE_TTL", "30", GateSettings, "hot_state_ttl", 30),
    ("TIERGATE_IDEMPOTENCY_BUDGET", "1024", GateSettings, "idempotency_budget", 1024),
    ("TIERGATE_IDEMPOTENCY_INFLIGHT_TTL", "20", GateSettings, "idempotency_inflight_ttl", 20),
    ("TIERGATE_REFUND_CLIENT_ERRORS", "true", GateSettings, "refund_client_errors", True),
    ("TIERGATE_WARMUP_SECRET", "warm-secret", GateSettings, "warmup_secret", "warm-secret"),
    ("CRON_SECRET", "c" * 32, GateSettings, "cron_secret", "c" * 32),
    ("TIERGATE_DYNAMODB_TIMEOUT", "2", GateSettings, "dynamodb_timeout", 2.0),
    ("UPSTASH_REDIS_REST_URL", "https://x.upstash.io", GateSettings, "upstash_redis_rest_url",
     "https://x.upstash.io"),
    ("UPSTASH_REDIS_REST_TOKEN", "tok", GateSettings, "upstash_redis_rest_token", "tok"),
    ("AWS_REGION", "eu-central-1", GateSettings, "aws_region", "eu-central-1"),
    ("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000", GateSettings,
     "aws_endpoint_url_dynamodb", "http://127.0.0.1:8000"),
    ("TIERGATE_EVENT_RETENTION_DAYS", "7", BillingSettings, "event_retention_days", 7),
    ("TIERGATE_WEBHOOK_TOLERANCE", "60", BillingSettings, "webhook_tolerance", 60),
    ("TIERGATE_STRIPE_API_BASE", "http://127.0.0.1:12111", BillingSettings, "stripe_api_base",
     "http://127.0.0.1:12111"),
    ("TIERGATE_STRIPE_TIMEOUT", "3", BillingSettings, "stripe_timeout", 3.0),
    ("TIERGATE_STRIPE_RETRY_BUDGET", "4", BillingSettings, "stripe_retry_budget", 4.0),
    ("TIERGATE_BILLING_RETURN_URL", "https://example.com/back", BillingSettings,
     "billing_return_url", "https://example.com/back"),
    ("STRIPE_SECRET_KEY", "sk_test_1", BillingSettings, "stripe_secret_key", "sk_test_1"),
    ("STRIPE_WEBHOOK_SECRET", "whsec_a,whsec_b", BillingSettings, "stripe_webhook_secret",
     "whsec_a,whsec_b"),
    ("TIERGATE_METER_LATE_WINDOW", "600", MeterSettings, "meter_late_window", 600),
    ("TIERGATE_ALERT_EMAIL_FROM", "alerts@example.com", AlertSettings, "alert_email_from",
     "alerts@example.com"),
    ("TIERGATE_SES_REGION", "eu-west-1", AlertSettings, "ses_region", "eu-west-1"),
    ("TIERGATE_ALERT_WEBHOOK_TIMEOUT", "5", AlertSettings, "alert_webhook_timeout", 5.0),
    ("TIERGATE_ALERT_RUN_BUDGET", "30", AlertSettings, "alert_run_budget", 30.0),
    ("TIERGATE_ALERT_GIVE_UP_HOURS", "12", AlertSettings, "alert_give_up_hours", 12.0),
    ("TIERGATE_MEASURE", "false", ObserveSettings, "measure", False),
    ("TIERGATE_MEASURE_FLUSH", "0", ObserveSettings, "measure_flush", 0.0),
    ("TIERGATE_MEASURE_SAMPLE", "10", ObserveSettings, "measure_sample", 10),
    ("TIERGATE_RECORD_COSTS", "true", ObserveSettings, "record_costs", True),
    ("TIERGATE_STATE_DIR", "/tmp/tg-state", ObserveSettings, "state_dir", "/tmp/tg-state"),
    ("POWERTOOLS_SERVICE_NAME", "svc", ObserveSettings, "service", "svc"),
    ("POWERTOOLS_METRICS_NAMESPACE", "ns/x", ObserveSettings, "metrics_namespace", "ns/x"),
    ("AWS_LAMBDA_LOG_LEVEL", "WARN", ObserveSettings, "log_level", "WARNING"),
    ("TIERGATE_ACCESS_LOG", "all", ObserveSettings, "access_log", "all"),
    ("TIERGATE_LOG_JSON", "false", ObserveSettings, "log_json", False),
    ("TIERGATE_LOG_FORMAT", "text", ObserveSettings, "log_format", "text"),
    ("TIERGATE_EMF", "false", ObserveSettings, "emf", False),
    ("VERCEL", "1", ScheduleSettings, "vercel", True),
    ("TIERGATE_SCHEDULED_TIMEOUT", "20", ScheduleSettings, "scheduled_timeout", 20.0),
    ("TIERGATE_BACKGROUND_INTERVAL", "5", ScheduleSettings, "background_interval", 5.0),
    ("TIERGATE_PRICES", '{"x": 1}', CostSettings, "prices", '{"x": 1}'),
]  # fmt: skip

# What the one class held with nothing set (TIERGATE_STATE_DIR aside: it names a home).
DEFAULTS: dict[str, object] = {
    "env": "development", "tiers": None, "table": None, "prefix": "/v1", "redis_timeout": 0.25,
    "redis_retry_budget": 1.0, "redis_namespace": "tg", "past_due_grace_days": 3.0,
    "idempotency_ttl": 86400, "hot_state_ttl": 300, "idempotency_budget": 33554432,
    "idempotency_inflight_ttl": 60, "refund_client_errors": False, "warmup_secret": None,
    "cron_secret": None, "vercel": False, "scheduled_timeout": 50.0, "background_interval": 30.0,
    "dynamodb_timeout": 1.0, "event_retention_days": 35, "webhook_tolerance": 300,
    "stripe_api_base": None, "stripe_timeout": 5.0, "stripe_retry_budget": 8.0,
    "meter_late_window": 3000, "alert_email_from": None, "ses_region": None,
    "alert_webhook_timeout": 10.0, "alert_run_budget": 40.0, "alert_give_up_hours": 24.0,
    "billing_return_url": "http://localhost:8000/", "measure": True, "measure_flush": 10.0,
    "measure_sample": 1, "record_costs": False, "state_dir": "/s",
    "upstash_redis_rest_url": None, "upstash_redis_rest_token": None, "stripe_secret_key": None,
    "stripe_webhook_secret": None, "aws_region": None, "aws_endpoint_url_dynamodb": None,
    "service": None, "metrics_namespace": "tiergate", "log_level": "INFO",
    "access_log": "problems", "log_json": True, "log_format": "json", "emf": True,
}  # fmt: skip

# The one class's refusals, as str(ValidationError) without pydantic's documentation links.
REFUSED: list[tuple[dict[str, Any], str]] = [
    ({"redis_timeout": 0},
     "1 validation error for Settings\nredis_timeout\n"
     "  Input should be greater than 0 [type=greater_than]"),
    ({"prefix": "v1/"},
     "1 validation error for Settings\n  Value error, TIERGATE_PREFIX must start with '/' and"
     " not end with it, e.g. /v1 [type=value_error]"),
    ({"upstash_redis_rest_url": "https://x"},
     "1 validation error for Settings\n  Value error, UPSTASH_REDIS_REST_URL is set but"
     " UPSTASH_REDIS_REST_TOKEN is not [type=value_error]"),
    ({"cron_secret": "short"},
     "1 validation error for Settings\ncron_secret\n  Value error, CRON_SECRET needs 16"
     " characters or more, a random string (e.g. `openssl rand -hex 32`); the one set has 5"
     " [type=value_error]"),
    ({"log_level": "loud"},
     "1 validation error for Settings\nlog_level\n  Value error, 'LOUD' is not a level; one of"
     " DEBUG, INFO, WARNING, ERROR, CRITICAL [type=value_error]"),
    ({"ses_region": "mars"},
     "1 validation error for Settings\nses_region\n  String should match pattern"
     " '^[a-z]{2}(-[a-z]+)+-\\d$' [type=string_pattern_mismatch]"),
    ({"measure_sample": 0},
     "1 validation error for Settings\nmeasure_sample\n"
     "  Input should be greater than or equal to 1 [type=greater_than_equal]"),
    ({"metrics_namespace": "bad!name"},
     "1 validation error for Settings\nmetrics_namespace\n  String should match pattern"
     " '^[A-Za-z0-9 ._/#:-]{1,255}$' [type=string_pattern_mismatch]"),
    ({"redis_timeout": 0, "stripe_timeout": 0},  # two sections' fields: one error, both named
     "2 validation errors for Settings\nredis_timeout\n"
     "  Input should be greater than 0 [type=greater_than]\nstripe_timeout\n"
     "  Input should be greater than 0 [type=greater_than]"),
]  # fmt: skip

# The core, for which GateSettings is: the request path, its stores, the wiring, the web
# layer's install. The rooms and the commands are not it.
NOT_CORE = ("alerts", "billing", "meter", "observe", "schedule", "cli")


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    names = {row[0] for row in ENVIRONMENT} | {"LOG_LEVEL", "POWERTOOLS_LOG_LEVEL"}
    for name in list(os.environ):
        if name.startswith(("TIERGATE_", "UPSTASH_", "STRIPE_")) or name in names:
            monkeypatch.delenv(name)


def flat(settings: Settings) -> dict[str, object]:
    """Every field of every section by name, secrets as their values."""
    values: dict[str, object] = {}
    for name in SECTIONS:
        values.update(getattr(settings, name).model_dump())
    return {k: v.get_secret_value() if isinstance(v, SecretStr) else v for k, v in values.items()}


def plain(section: Section) -> dict[str, object]:
    return {
        k: v.get_secret_value() if isinstance(v, SecretStr) else v
        for k, v in section.model_dump().items()
    }


def the_whole_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, raw, *_ in ENVIRONMENT:
        monkeypatch.setenv(name, raw)


@pytest.mark.parametrize("section", [*SECTIONS.values(), CostSettings])
def test_each_section_reads_its_own_names_alone(
    monkeypatch: pytest.MonkeyPatch, section: type[Section]
) -> None:
    the_whole_environment(monkeypatch)
    expected = {field: value for _, _, owner, field, value in ENVIRONMENT if owner is section}
    assert plain(section()) == expected


def test_the_composite_reads_the_environment_as_the_one_class_did(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    the_whole_environment(monkeypatch)
    settings = Settings()
    composite = {row[3]: row[4] for row in ENVIRONMENT if row[2] is not CostSettings}
    assert flat(settings) == composite
    for name, section in SECTIONS.items():  # read once, split: as each section reads alone
        assert getattr(settings, name) == section()


def test_the_composite_has_the_one_classs_defaults() -> None:
    assert flat(Settings(state_dir="/s")) == DEFAULTS


def test_keywords_go_by_field_name_or_variable_name_to_their_sections() -> None:
    settings = Settings(
        cron_secret="k" * 16,
        UPSTASH_REDIS_REST_URL="https://y",  # the variable's own spelling, as before
        upstash_redis_rest_token="t",
        log_level="trace",  # Lambda's name, in any case
        service="svc2",
        vercel=True,
    )
    changed = {
        "cron_secret": "k" * 16,
        "upstash_redis_rest_url": "https://y",
        "upstash_redis_rest_token": "t",
        "log_level": "DEBUG",
        "service": "svc2",
        "vercel": True,
    }
    assert flat(settings) == {**DEFAULTS, "state_dir": settings.observe.state_dir, **changed}
    # What was given is known per section (`tiergate serve` keeps its defaults off those).
    assert settings.gate.model_fields_set == {
        "cron_secret",
        "upstash_redis_rest_url",
        "upstash_redis_rest_token",
    }
    assert settings.observe.model_fields_set == {"log_level", "service"}
    assert settings.meter.model_fields_set == set()


@pytest.mark.parametrize(("given", "said"), REFUSED)
def test_refusals_read_as_the_one_classs(given: dict[str, Any], said: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(**given)
    text = "\n".join(
        line for line in str(raised.value).splitlines() if "errors.pydantic.dev" not in line
    )
    assert text == said


def test_a_bad_alert_sender_is_refused_as_before() -> None:
    with pytest.raises(InvalidContact, match="TIERGATE_ALERT_EMAIL_FROM 'not an address' is not"):
        Settings(alert_email_from="not an address")


def test_production_without_the_stores_still_stops_start_up() -> None:
    with pytest.raises(ConfigError) as raised:
        build(Settings(env="production"))
    assert str(raised.value) == (
        "TIERGATE_ENV=production needs UPSTASH_REDIS_REST_URL and TIERGATE_TABLE: the"
        " in-process stores are for local use only"
    )


def test_each_field_has_one_section_and_the_composite_is_their_union() -> None:
    seen: set[str] = set()
    for section in SECTIONS.values():
        fields = set(section.model_fields)
        assert not fields & seen, f"{section.__name__} repeats {sorted(fields & seen)}"
        seen |= fields
    assert seen == set(FIELDS)
    assert {row[3] for row in ENVIRONMENT if row[2] is not CostSettings} == seen  # all tested
    assert not set(CostSettings.model_fields) & seen  # the report's prices are not deployed
    assert {FIELDS[f] for f in GateSettings.model_fields} == {"gate"}


class _Twin(Section):
    """A section that names a check as the gate's does: in the one model validating them all,
    one of the two checks would be lost."""

    @model_validator(mode="after")
    def _gate_complete(self) -> _Twin:
        return self


def test_two_sections_naming_one_field_or_check_alike_are_refused() -> None:
    with pytest.raises(TypeError, match="'_gate_complete' is in both gate and twin"):
        owners({"gate": GateSettings, "twin": _Twin})
    with pytest.raises(TypeError, match="'env' is in both gate and again"):
        owners({"gate": GateSettings, "again": GateSettings})


def _settings_read(path: Path) -> set[str]:
    """The names read as `<settings>.name`: off a variable that holds a section (named as the
    code names them) or off a composite's section (`settings.gate.name`)."""
    holders = {"settings", "core", "gate", "observe", "local"}
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Attribute) or not isinstance(node.ctx, ast.Load):
            continue
        held = node.value
        if (isinstance(held, ast.Name) and held.id in holders) or (
            isinstance(held, ast.Attribute) and held.attr in SECTIONS
        ):
            found.add(node.attr)
    return found


def _readers() -> dict[str, set[str]]:
    readers: dict[str, set[str]] = {}
    paths = [*(LIB / "tiergate").rglob("*.py"), *(LIB / "tiergate_tools").rglob("*.py")]
    for path in sorted(paths):
        where = path.relative_to(LIB).as_posix()
        for name in _settings_read(path):
            readers.setdefault(name, set()).add(where)
    return readers


def test_the_gate_holds_only_what_the_core_reads() -> None:
    """A field of GateSettings that only a room or a command reads belongs in that room's
    section; every other field is read somewhere (no setting is dead)."""
    readers = _readers()

    def core(where: str) -> bool:
        parts = where.split("/")
        return parts[0] == "tiergate" and (len(parts) == 2 or parts[1] not in NOT_CORE)

    only_elsewhere = {
        field: sorted(readers.get(field, ()))
        for field in GateSettings.model_fields
        if not any(core(where) for where in readers.get(field, ()))
    }
    assert only_elsewhere == {}
    unread = [field for field in FIELDS if field not in readers]
    assert unread == []


def test_replace_changes_the_owning_section_and_nothing_else() -> None:
    settings = Settings(table="t")
    changed = settings.replace(record_costs=True, table=None)
    assert (changed.observe.record_costs, changed.gate.table) == (True, None)
    assert (settings.observe.record_costs, settings.gate.table) == (False, "t")
    assert changed.billing is settings.billing  # untouched sections are shared
    with pytest.raises(TypeError, match="no such setting: prices"):
        settings.replace(prices="{}")


def test_pydantic_settings_own_options_still_reach_every_section(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("TIERGATE_TABLE=from-file\nSTRIPE_SECRET_KEY=sk_test_file\n")
    settings = Settings(_env_file=dotenv)
    secret = settings.billing.stripe_secret_key
    assert (settings.gate.table, secret and secret.get_secret_value()) == (
        "from-file",
        "sk_test_file",
    )


def test_a_field_still_reads_flat_as_before_the_sections() -> None:
    settings = Settings(prefix="/api", redis_timeout=2.5, log_level="debug")
    assert (settings.prefix, settings.redis_timeout, settings.log_level) == ("/api", 2.5, "DEBUG")
    assert settings.prefix == settings.gate.prefix
    with pytest.raises(AttributeError, match="no attribute 'prefixx'"):
        _ = settings.prefixx


def test_production_measures_1_in_10_unless_told_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UPSTASH_REDIS_REST_URL", "https://x.upstash.io")
    monkeypatch.setenv("UPSTASH_REDIS_REST_TOKEN", "t")
    monkeypatch.setenv("TIERGATE_TABLE", "t")
    assert Settings(env="production").observe.measure_sample == 10
    assert Settings(env="production", measure_sample=1).observe.measure_sample == 1
    monkeypatch.setenv("TIERGATE_MEASURE_SAMPLE", "3")
    assert Settings(env="production").observe.measure_sample == 3
    monkeypatch.delenv("TIERGATE_MEASURE_SAMPLE")
    assert Settings().observe.measure_sample == 1  # development: every request


def test_a_keyword_no_section_knows_is_refused_by_name() -> None:
    with pytest.raises(TypeError, match="no setting named prefx, tablee"):
        Settings(prefx="/api", tablee="t")
    with pytest.raises(TypeError, match="TIERGATE_PRICES is the cost report's"):
        Settings(prices="{}")  # a field of the one class before the sections
    # Each field's own name and its aliases are known: a production variable's own name too.
    assert Settings(AWS_REGION="eu-west-1").gate.aws_region == "eu-west-1"
