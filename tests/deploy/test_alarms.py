"""The alarms in the packaged template watch the EMF metrics the code emits: the names and
dimensions of lib/tiergate/telemetry.py, the `service` each function is given, and log levels
that keep the lines the metrics travel in. No alarm counts free-text log lines."""

from __future__ import annotations

import re
from typing import Any

from tiergate import telemetry as t
from tiergate.web.answers import ANSWERS

from .packaged import Packaged, scheduled_function

# The one dimension each metric carries beside `service` (telemetry.py's docstring).
BESIDE_SERVICE = {
    t.DENIED: t.DIM_REASON,
    t.DEGRADED: t.DIM_REASON,
    t.WEBHOOK: t.DIM_OUTCOME,
    t.METER_PUSH: t.DIM_OUTCOME,
    t.ALERT_DELIVERY: t.DIM_OUTCOME,
}
# The service each metric is emitted under on AWS: the function that counts it.
EMITTED_BY = {
    t.DENIED: t.SERVICE_API,
    t.DEGRADED: t.SERVICE_API,
    t.WEBHOOK: t.SERVICE_WEBHOOK,
    t.METER_PUSH: t.SERVICE_SCHEDULED,
    t.ALERT_DELIVERY: t.SERVICE_SCHEDULED,
}
# The values the code gives the dimension beside service, where telemetry.py names them all.
OUTCOMES = {
    t.METER_PUSH: {t.METER_SENT, t.METER_FAILED, t.METER_MISSED, t.METER_WAITING, t.METER_BEHIND},
    t.ALERT_DELIVERY: {t.ALERT_DELIVERED, t.ALERT_FAILED, t.ALERT_DROPPED},
}

# The denial reasons are the gate's problem slugs, the keys of the answers table.
BURST, QUOTA, LIMITER_UNAVAILABLE = "burst-exceeded", "quota-exhausted", "limiter-unavailable"
assert {BURST, QUOTA, LIMITER_UNAVAILABLE} <= ANSWERS.keys()
REASON_FAIL_OPEN = t.REASON_FAIL_OPEN
OUTCOME_FAILED, OUTCOME_NOT_CONFIGURED = t.OUTCOME_FAILED, t.OUTCOME_NOT_CONFIGURED
OUTCOME_INVALID_SIGNATURE = t.OUTCOME_INVALID_SIGNATURE

Watched = tuple[str, str, str]  # (metric, service, reason or outcome)


def metrics(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """Every metric the alarm reads: its own, or each MetricStat of its metric math."""
    props = alarm["Properties"]
    if "MetricName" in props:
        return [props]
    return [query["MetricStat"]["Metric"] for query in props["Metrics"] if "MetricStat" in query]


def watched(alarm: dict[str, Any]) -> set[Watched]:
    found: set[Watched] = set()
    for metric in metrics(alarm):
        if metric["Namespace"] != t.NAMESPACE:
            continue
        dims = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
        beside = BESIDE_SERVICE[metric["MetricName"]]
        found.add((metric["MetricName"], dims[t.DIM_SERVICE], dims[beside]))
    return found


def alarms(packaged: Packaged) -> dict[str, Any]:
    return packaged.resources("AWS::CloudWatch::Alarm")


def test_every_alarm_names_a_metric_and_a_dimension_set_the_code_emits(
    packaged: Packaged,
) -> None:
    for name, alarm in alarms(packaged).items():
        for metric in metrics(alarm):
            # The 5xx rate (API Gateway's own) and the dead-letter queue (SQS's own).
            if metric["Namespace"] in ("AWS/ApiGateway", "AWS/SQS"):
                continue
            assert metric["Namespace"] == t.NAMESPACE, name
            assert metric["MetricName"] in BESIDE_SERVICE, name
            # Exactly service + one: CloudWatch matches a dimension set whole, so an alarm
            # with one dimension more or less than the code emits sees no data, ever.
            beside = BESIDE_SERVICE[metric["MetricName"]]
            dims = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
            assert sorted(dims) == sorted([t.DIM_SERVICE, beside])
            assert dims[t.DIM_SERVICE] == EMITTED_BY[metric["MetricName"]], name
            if metric["MetricName"] in OUTCOMES:
                assert dims[beside] in OUTCOMES[metric["MetricName"]], name


def test_the_alarms_watch_429s_the_limiter_the_webhook_and_the_schedule(
    packaged: Packaged,
) -> None:
    assert {name: watched(alarm) for name, alarm in alarms(packaged).items()} == {
        "ServerErrorsAlarm": set(),  # API Gateway's 5xx above 1% of requests
        "ScheduledDeadLetterAlarm": set(),  # a scheduled run that failed every attempt
        "MeterPushFailuresAlarm": {(t.METER_PUSH, t.SERVICE_SCHEDULED, t.METER_FAILED)},
        "MeterPushMissedAlarm": {(t.METER_PUSH, t.SERVICE_SCHEDULED, t.METER_MISSED)},
        "MeterPushBehindAlarm": {(t.METER_PUSH, t.SERVICE_SCHEDULED, t.METER_BEHIND)},
        "AlertDeliveryFailuresAlarm": {(t.ALERT_DELIVERY, t.SERVICE_SCHEDULED, t.ALERT_FAILED)},
        "AlertsDroppedAlarm": {(t.ALERT_DELIVERY, t.SERVICE_SCHEDULED, t.ALERT_DROPPED)},
        "TooManyRequestsAlarm": {
            (t.DENIED, t.SERVICE_API, BURST),
            (t.DENIED, t.SERVICE_API, QUOTA),
        },
        "LimiterUnavailableAlarm": {
            (t.DENIED, t.SERVICE_API, LIMITER_UNAVAILABLE),
            (t.DEGRADED, t.SERVICE_API, REASON_FAIL_OPEN),
        },
        "WebhookFailuresAlarm": {
            (t.WEBHOOK, t.SERVICE_WEBHOOK, OUTCOME_FAILED),
            (t.WEBHOOK, t.SERVICE_WEBHOOK, OUTCOME_NOT_CONFIGURED),
        },
        "WebhookSignaturesAlarm": {(t.WEBHOOK, t.SERVICE_WEBHOOK, OUTCOME_INVALID_SIGNATURE)},
    }
    for alarm in alarms(packaged).values():
        assert alarm["Properties"]["AlarmActions"] == [
            {"Fn::If": ["HasAlarmTopic", {"Ref": "AlarmTopicArn"}, {"Ref": "AWS::NoValue"}]}
        ]


def test_a_sum_counts_each_term_even_when_another_has_no_data(packaged: Packaged) -> None:
    # In metric math a term with no datapoint in a period makes the sum empty: without FILL,
    # a period of only quota denials (no burst ones) would never reach the threshold.
    sums = 0
    for name, alarm in alarms(packaged).items():
        queries = alarm["Properties"].get("Metrics", [])
        terms = {q["Id"] for q in queries if "MetricStat" in q}
        for expression in (q["Expression"] for q in queries if "Expression" in q):
            if "+" not in expression:
                continue
            sums += 1
            filled = set(re.findall(r"FILL\((\w+), 0\)", expression))
            used = set(re.findall(r"\b[a-z]\w*\b", expression)) & terms
            assert used, (name, expression)
            assert used == filled, (name, expression)
    assert sums == 3  # the 429s, the limiter, the webhook failures


def test_each_function_emits_under_its_service_and_keeps_info_lines(packaged: Packaged) -> None:
    routes = packaged.routes()
    webhook = routes["POST /webhooks/stripe"]
    scheduled = scheduled_function(packaged)
    for name, spec in packaged.functions().items():
        env = spec["Environment"]["Variables"]
        service = {webhook: t.SERVICE_WEBHOOK, scheduled: t.SERVICE_SCHEDULED}.get(
            name, t.SERVICE_API
        )
        assert env["POWERTOOLS_SERVICE_NAME"] == service, name
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == t.NAMESPACE, name
        # Without a log level the Python runtime keeps only WARNING and up; EMF lines carry
        # no level and count as INFO, so INFO is also the floor for the metrics.
        assert spec["LoggingConfig"] == {
            "LogFormat": "JSON",
            "ApplicationLogLevel": "INFO",
            "SystemLogLevel": "WARN",
        }, name


def test_no_alarm_counts_log_lines(packaged: Packaged) -> None:
    assert packaged.resources("AWS::Logs::MetricFilter") == {}


def test_the_dead_letter_queue_alarms_on_its_first_message(packaged: Packaged) -> None:
    props = alarms(packaged)["ScheduledDeadLetterAlarm"]["Properties"]
    assert (props["Namespace"], props["MetricName"]) == (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
    )
    assert props["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["ScheduledDeadLetterQueue", "QueueName"]}}
    ]
    assert (props["ComparisonOperator"], props["Threshold"]) == ("GreaterThanThreshold", 0)
    assert props["EvaluationPeriods"] == 1
    # Missed overage and dropped alerts are never retried: one is enough, at once.
    for name in ("MeterPushMissedAlarm", "AlertsDroppedAlarm"):
        props = alarms(packaged)[name]["Properties"]
        assert (props["Threshold"], props["EvaluationPeriods"]) == (0, 1), name
