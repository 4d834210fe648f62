"""`serverless package` on a fresh copy, with no step before it, makes the Lambda package and
a template that cfn-lint passes; what the template says about functions, table and roles."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from .packaged import CFN_LINT, SERVERLESS, Packaged, fresh_copy, run


def test_a_fresh_copy_packages_with_no_other_step(packaged: Packaged) -> None:
    # The framework's own check ("Cannot access package artifact") passed, so the build ran
    # first; what it built is the app and its dependencies, for Lambda's platform.
    assert "Cannot access package artifact" not in packaged.output
    with zipfile.ZipFile(packaged.artifact) as archive:
        names = archive.namelist()
    tops = {name.split("/")[0] for name in names}
    assert {"api/index.py", "api/webhooks.py", "api/scheduled.py", "tiergate/__init__.py"} <= set(
        names
    )
    assert {"fastapi", "mangum", "pydantic_core", "stripe", "upstash_redis"} <= tops
    assert not tops & {"boto3", "botocore", "uvicorn", "yaml"}  # the runtime has boto3
    # The tools (local Upstash server, infra check, the cost report) are not deployed.
    assert "tiergate_tools" not in tops
    tools = ("tiergate/localredis/", "tiergate/infra/", "tiergate/costs/", "tiergate/cli/")
    assert not [n for n in names if n.startswith(tools) or n.endswith("prices.json")]
    assert "tiergate/__main__.py" not in names  # nor the `tiergate` command
    compiled = [n for n in names if n.endswith(".so")]
    assert any(n.startswith("pydantic_core/") for n in compiled)
    # Built for Lambda's python3.12 on Graviton, whatever this machine is.
    assert all(n.endswith(".cpython-312-aarch64-linux-gnu.so") for n in compiled), compiled
    functions = packaged.functions()
    assert {f["Runtime"] for f in functions.values()} == {"python3.12"}
    assert {tuple(f["Architectures"]) for f in functions.values()} == {("arm64",)}
    key = {f["Code"]["S3Key"].rsplit("/", 1)[1] for f in functions.values()}
    assert key == {packaged.artifact.name}


@pytest.mark.needs("serverless")
def test_a_build_that_fails_stops_the_packaging_and_says_so(tmp_path: Path) -> None:
    clone = fresh_copy(tmp_path)
    failed = run([str(SERVERLESS), "package", "--stage", "test"], cwd=clone, PYTHON="false")
    output = failed.stdout + failed.stderr
    assert failed.returncode != 0
    assert "The Lambda package was not built (false dev.py lambda: exit status 1)" in output
    assert not (clone / ".build" / "lambda.zip").exists()


def test_the_template_passes_cfn_lint(packaged: Packaged) -> None:
    # W3005 (a DependsOn that a Ref already implies) is the framework's own doing.
    linted = run([str(CFN_LINT), "--ignore-checks", "W3005", "--", str(packaged.template_path)])
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_only_the_paid_function_is_kept_warm_and_scales_on_utilisation(
    packaged: Packaged,
) -> None:
    aliases = packaged.resources("AWS::Lambda::Alias")
    assert list(aliases) == ["ApiPaidProvConcLambdaAlias"]
    assert aliases["ApiPaidProvConcLambdaAlias"]["Properties"]["FunctionName"] == {
        "Ref": "ApiPaidLambdaFunction"
    }
    (target,) = packaged.resources("AWS::ApplicationAutoScaling::ScalableTarget").values()
    assert target["Properties"]["ResourceId"] == "function:tiergate-test-apiPaid:provisioned"
    assert target["Properties"]["ScalableDimension"] == "lambda:function:ProvisionedConcurrency"
    (policy,) = packaged.resources("AWS::ApplicationAutoScaling::ScalingPolicy").values()
    spec = policy["Properties"]["TargetTrackingScalingPolicyConfiguration"]
    assert spec["PredefinedMetricSpecification"]["PredefinedMetricType"] == (
        "LambdaProvisionedConcurrencyUtilization"
    )


def test_the_table_keeps_history_and_expires_events(packaged: Packaged) -> None:
    table = packaged.template["Resources"]["RegistryTable"]
    assert table["DeletionPolicy"] == "Retain"
    props = table["Properties"]
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}
    assert props["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]


def test_each_function_may_make_only_its_own_calls_on_the_table(packaged: Packaged) -> None:
    roles = {name: spec["Role"] for name, spec in packaged.functions().items()}
    assert roles == {
        "ApiFreeLambdaFunction": {"Fn::GetAtt": ["ApiRole", "Arn"]},
        "ApiPaidLambdaFunction": {"Fn::GetAtt": ["ApiRole", "Arn"]},
        "WebhookLambdaFunction": {"Fn::GetAtt": ["WebhookRole", "Arn"]},
        "ScheduledLambdaFunction": {"Fn::GetAtt": ["ScheduledRole", "Arn"]},
    }
    assert set(packaged.resources("AWS::IAM::Role")) == {"ApiRole", "WebhookRole", "ScheduledRole"}
    table = {"Fn::GetAtt": ["RegistryTable", "Arn"]}
    assert allowed(packaged.template, "ApiRole") == {
        ("dynamodb:GetItem", repr(table)),
        ("logs:CreateLogStream", repr({"Fn::GetAtt": ["ApiFreeLogGroup", "Arn"]})),
        ("logs:PutLogEvents", repr({"Fn::GetAtt": ["ApiFreeLogGroup", "Arn"]})),
        ("logs:CreateLogStream", repr({"Fn::GetAtt": ["ApiPaidLogGroup", "Arn"]})),
        ("logs:PutLogEvents", repr({"Fn::GetAtt": ["ApiPaidLogGroup", "Arn"]})),
    }
    assert allowed(packaged.template, "WebhookRole") == {
        ("dynamodb:GetItem", repr(table)),
        ("dynamodb:PutItem", repr(table)),
        ("dynamodb:UpdateItem", repr(table)),
        ("logs:CreateLogStream", repr({"Fn::GetAtt": ["WebhookLogGroup", "Arn"]})),
        ("logs:PutLogEvents", repr({"Fn::GetAtt": ["WebhookLogGroup", "Arn"]})),
    }
    # The scheduled runs: the meter outbox and accounts, alert emails, and Lambda's
    # onFailure destination (which sends with the function's own role).
    ses = {"Fn::Sub": "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/*"}
    # (tests/billing/test_meter_end_to_end.py records the calls a scheduled run makes)
    assert allowed(packaged.template, "ScheduledRole") == {
        ("dynamodb:GetItem", repr(table)),
        ("dynamodb:BatchGetItem", repr(table)),
        ("dynamodb:UpdateItem", repr(table)),
        ("ses:SendEmail", repr(ses)),
        ("sqs:SendMessage", repr({"Fn::GetAtt": ["ScheduledDeadLetterQueue", "Arn"]})),
        ("logs:CreateLogStream", repr({"Fn::GetAtt": ["ScheduledLogGroup", "Arn"]})),
        ("logs:PutLogEvents", repr({"Fn::GetAtt": ["ScheduledLogGroup", "Arn"]})),
    }


def allowed(template: dict[str, Any], role: str) -> set[tuple[str, str]]:
    """Every (action, resource) pair the role's policies allow; nothing may be denied."""
    policies = template["Resources"][role]["Properties"]["Policies"]
    pairs: set[tuple[str, str]] = set()
    for statement in (s for p in policies for s in p["PolicyDocument"]["Statement"]):
        assert statement["Effect"] == "Allow", statement
        targets = statement["Resource"]
        for action in statement["Action"]:
            for target in targets if isinstance(targets, list) else [targets]:
                pairs.add((action, repr(target)))
    return pairs


@pytest.mark.needs("serverless")
def test_the_only_schema_complaint_is_the_python312_runtime() -> None:
    # configValidationMode is `warn` only because v3's schema predates python3.12: any other
    # complaint (a misspelt property, say) would be silently deployed, so it fails here.
    printed = run([str(SERVERLESS), "print", "--stage", "test"])
    assert printed.returncode == 0, printed.stdout + printed.stderr
    output = printed.stdout + printed.stderr
    complaints = [line.strip() for line in output.splitlines() if line.startswith("  at '")]
    assert [c.split(":")[0] for c in complaints] == ["at 'provider.runtime'"], complaints


@pytest.mark.needs("serverless")
def test_deploy_params_reach_the_stack_on_every_deploy() -> None:
    topic = "arn:aws:sns:us-east-1:123456789012:tiergate-alarms"
    version = "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111"
    printed = run(
        [str(SERVERLESS), "print", "--stage", "test", "--format", "json",
         "--param", f"alarmTopicArn={topic}", "--param", f"secretVersion=:{version}"],
    )  # fmt: skip
    assert printed.returncode == 0, printed.stdout + printed.stderr
    config = json.loads(printed.stdout[printed.stdout.index("{") :])
    assert config["provider"]["stackParameters"] == [
        {"ParameterKey": "AlarmTopicArn", "ParameterValue": topic}
    ]
    # A new secret version changes the reference, which is what makes CloudFormation read it.
    assert config["functions"]["webhook"]["environment"]["STRIPE_WEBHOOK_SECRET"] == (
        "{{resolve:secretsmanager:tiergate/test:SecretString:STRIPE_WEBHOOK_SECRET::"
        f"{version}}}}}"
    )
