"""The scheduled runs on AWS, in the packaged template: an EventBridge rule every minute, its
target's retries and dead-letter queue, Lambda's own retries into the same queue, one run at a
time, and a time limit the runs stay inside."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tiergate.config import Settings

from .packaged import SERVERLESS, Packaged, run, scheduled_function

DLQ = {"Fn::GetAtt": ["ScheduledDeadLetterQueue", "Arn"]}


def rule(packaged: Packaged) -> dict[str, Any]:
    (found,) = packaged.resources("AWS::Events::Rule").values()
    props: dict[str, Any] = found["Properties"]
    return props


def test_a_rule_invokes_the_scheduled_handler_every_minute(packaged: Packaged) -> None:
    props = rule(packaged)
    assert props["ScheduleExpression"] == "rate(1 minute)"
    assert props["State"] == "ENABLED"
    assert props["Name"] == "tiergate-test-scheduled"
    function = packaged.functions()[scheduled_function(packaged)]
    assert function["Handler"] == "api/scheduled.handler"
    # Lambda may invoke it: the framework's permission names the rule.
    permissions = [
        p["Properties"]
        for p in packaged.resources("AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "events.amazonaws.com"
    ]
    assert [p["FunctionName"]["Fn::GetAtt"][0] for p in permissions] == [
        scheduled_function(packaged)
    ]


def test_a_run_eventbridge_cannot_deliver_is_retried_then_dead_lettered(
    packaged: Packaged,
) -> None:
    (target,) = rule(packaged)["Targets"]
    assert target["DeadLetterConfig"] == {"Arn": DLQ}
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 300, "MaximumRetryAttempts": 5}
    # The queue lets EventBridge in for this rule only.
    (policy,) = packaged.resources("AWS::SQS::QueuePolicy").values()
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Resource"] == DLQ
    source = statement["Condition"]["ArnEquals"]["aws:SourceArn"]["Fn::Sub"]
    assert source.endswith(":rule/" + rule(packaged)["Name"])


def test_a_run_that_fails_is_retried_by_lambda_then_dead_lettered(packaged: Packaged) -> None:
    (config,) = packaged.resources("AWS::Lambda::EventInvokeConfig").values()
    props = config["Properties"]
    assert props["FunctionName"] == {"Ref": scheduled_function(packaged)}
    assert props["MaximumRetryAttempts"] == 2
    assert props["MaximumEventAgeInSeconds"] == 900
    assert props["DestinationConfig"] == {"OnFailure": {"Destination": DLQ}}
    queue = packaged.template["Resources"]["ScheduledDeadLetterQueue"]["Properties"]
    assert queue["MessageRetentionPeriod"] == 14 * 86_400  # the longest SQS keeps one


def test_runs_never_overlap_and_end_inside_the_functions_limit(packaged: Packaged) -> None:
    function = packaged.functions()[scheduled_function(packaged)]
    assert function["ReservedConcurrentExecutions"] == 1
    # The jobs are cut off at TIERGATE_SCHEDULED_TIMEOUT, which leaves the handler time to
    # report before Lambda's own limit (and the run ends before the next minute's starts).
    assert Settings().schedule.scheduled_timeout + 2 <= function["Timeout"] <= 60
    assert "TIERGATE_SCHEDULED_TIMEOUT" not in function["Environment"]["Variables"]


@pytest.mark.needs("serverless")
def test_the_alert_emails_sender_is_a_deploy_param_of_the_scheduled_runs() -> None:
    sender = "alerts@seller.example"
    printed = run(
        [str(SERVERLESS), "print", "--stage", "test", "--format", "json",
         "--param", f"alertEmailFrom={sender}"],
    )  # fmt: skip
    assert printed.returncode == 0, printed.stdout + printed.stderr
    config = json.loads(printed.stdout[printed.stdout.index("{") :])
    given = {
        name: function["environment"].get("TIERGATE_ALERT_EMAIL_FROM")
        for name, function in config["functions"].items()
    }
    assert given == {"apiFree": None, "apiPaid": None, "webhook": None, "scheduled": sender}


def test_without_the_param_the_scheduled_runs_have_no_sender(packaged: Packaged) -> None:
    env = packaged.functions()[scheduled_function(packaged)]["Environment"]["Variables"]
    assert env["TIERGATE_ALERT_EMAIL_FROM"] == ""  # Settings reads it as unset
    assert (
        Settings(alert_email_from=env["TIERGATE_ALERT_EMAIL_FROM"]).alerts.alert_email_from is None
    )
