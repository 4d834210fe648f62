"""`serverless package` (v3.39.0, offline) on the real Lambda package, and cfn-lint on what it
generates. Both tools are installed by `python3 dev.py test`; a missing one fails the run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVERLESS = ROOT / ".tools" / "node_modules" / ".bin" / "serverless"
CFN_LINT = Path(sys.executable).parent / "cfn-lint"


def run(cmd: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TIERGATE_"))}
    return subprocess.run(
        cmd, cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=300,
        check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    built = run([sys.executable, str(ROOT / "dev.py"), "lambda"])
    assert built.returncode == 0, built.stdout + built.stderr
    if not SERVERLESS.exists():
        pytest.fail(f"{SERVERLESS} is missing: `python3 dev.py test` installs it")
    out = tmp_path_factory.mktemp("sls")
    packaged = run(
        [str(SERVERLESS), "package", "--stage", "test", "--package", str(out)],
        SLS_TELEMETRY_DISABLED="1",
        SLS_NOTIFICATIONS_MODE="off",
    )
    assert packaged.returncode == 0, packaged.stdout + packaged.stderr
    path = out / "cloudformation-template-update-stack.json"
    document: dict[str, Any] = json.loads(path.read_text())
    document["__path__"] = str(path)
    return document


def resources(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def test_the_template_passes_cfn_lint(template: dict[str, Any]) -> None:
    # W3005 (a DependsOn that a Ref already implies) is the framework's own doing.
    linted = run([str(CFN_LINT), "--ignore-checks", "W3005", "--", template["__path__"]])
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_only_the_paid_function_is_kept_warm_and_scales_on_utilisation(
    template: dict[str, Any],
) -> None:
    aliases = resources(template, "AWS::Lambda::Alias")
    assert list(aliases) == ["ApiPaidProvConcLambdaAlias"]
    assert aliases["ApiPaidProvConcLambdaAlias"]["Properties"]["FunctionName"] == {
        "Ref": "ApiPaidLambdaFunction"
    }
    (target,) = resources(template, "AWS::ApplicationAutoScaling::ScalableTarget").values()
    assert target["Properties"]["ResourceId"] == "function:tiergate-test-apiPaid:provisioned"
    assert target["Properties"]["ScalableDimension"] == "lambda:function:ProvisionedConcurrency"
    (policy,) = resources(template, "AWS::ApplicationAutoScaling::ScalingPolicy").values()
    spec = policy["Properties"]["TargetTrackingScalingPolicyConfiguration"]
    assert spec["PredefinedMetricSpecification"]["PredefinedMetricType"] == (
        "LambdaProvisionedConcurrencyUtilization"
    )


def test_free_traffic_has_reserved_concurrency(template: dict[str, Any]) -> None:
    functions = resources(template, "AWS::Lambda::Function")
    reserved = {
        name: spec["Properties"].get("ReservedConcurrentExecutions")
        for name, spec in functions.items()
    }
    assert reserved == {
        "ApiFreeLambdaFunction": 20,
        "ApiPaidLambdaFunction": None,
        "WebhookLambdaFunction": None,
    }
    runtimes = {spec["Properties"]["Runtime"] for spec in functions.values()}
    assert runtimes == {"python3.12"}


def test_the_table_keeps_history_and_expires_events(template: dict[str, Any]) -> None:
    table = template["Resources"]["RegistryTable"]
    assert table["DeletionPolicy"] == "Retain"
    props = table["Properties"]
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}
    assert props["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]


def test_each_function_may_make_only_its_own_calls_on_the_table(
    template: dict[str, Any],
) -> None:
    functions = resources(template, "AWS::Lambda::Function")
    roles = {name: spec["Properties"]["Role"] for name, spec in functions.items()}
    assert roles == {
        "ApiFreeLambdaFunction": {"Fn::GetAtt": ["ApiRole", "Arn"]},
        "ApiPaidLambdaFunction": {"Fn::GetAtt": ["ApiRole", "Arn"]},
        "WebhookLambdaFunction": {"Fn::GetAtt": ["WebhookRole", "Arn"]},
    }
    assert set(resources(template, "AWS::IAM::Role")) == {"ApiRole", "WebhookRole"}
    table = {"Fn::GetAtt": ["RegistryTable", "Arn"]}
    assert allowed(template, "ApiRole") == {
        ("dynamodb:GetItem", repr(table)),
        ("logs:CreateLogStream", repr({"Fn::GetAtt": ["ApiFreeLogGroup", "Arn"]})),
        ("logs:PutLogEvents", repr({"Fn::GetAtt": ["ApiFreeLogGroup", "Arn"]})),
        ("logs:CreateLogStream", repr({"Fn::GetAtt": ["ApiPaidLogGroup", "Arn"]})),
        ("logs:PutLogEvents", repr({"Fn::GetAtt": ["ApiPaidLogGroup", "Arn"]})),
    }
    assert allowed(template, "WebhookRole") == {
        ("dynamodb:GetItem", repr(table)),
        ("dynamodb:PutItem", repr(table)),
        ("dynamodb:UpdateItem", repr(table)),
        ("logs:CreateLogStream", repr({"Fn::GetAtt": ["WebhookLogGroup", "Arn"]})),
        ("logs:PutLogEvents", repr({"Fn::GetAtt": ["WebhookLogGroup", "Arn"]})),
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


def test_secrets_are_references_never_values(template: dict[str, Any]) -> None:
    for name, spec in resources(template, "AWS::Lambda::Function").items():
        env = spec["Properties"]["Environment"]["Variables"]
        for var in ("UPSTASH_REDIS_REST_TOKEN", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET"):
            assert env[var] == (
                f"{{{{resolve:secretsmanager:tiergate/test:SecretString:{var}:AWSCURRENT}}}}"
            ), (name, var)


def test_alarms_watch_errors_webhooks_and_429s(template: dict[str, Any]) -> None:
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    assert set(alarms) == {"ServerErrorsAlarm", "WebhookFailuresAlarm", "TooManyRequestsAlarm"}
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [
            {"Fn::If": ["HasAlarmTopic", {"Ref": "AlarmTopicArn"}, {"Ref": "AWS::NoValue"}]}
        ]


def test_the_only_schema_complaint_is_the_python312_runtime() -> None:
    # configValidationMode is `warn` only because v3's schema predates python3.12: any other
    # complaint (a misspelt property, say) would be silently deployed, so it fails here.
    printed = run(
        [str(SERVERLESS), "print", "--stage", "test"],
        SLS_TELEMETRY_DISABLED="1", SLS_NOTIFICATIONS_MODE="off",
    )  # fmt: skip
    assert printed.returncode == 0, printed.stdout + printed.stderr
    output = printed.stdout + printed.stderr
    complaints = [line.strip() for line in output.splitlines() if line.startswith("  at '")]
    assert [c.split(":")[0] for c in complaints] == ["at 'provider.runtime'"], complaints


def test_deploy_params_reach_the_stack_on_every_deploy() -> None:
    topic = "arn:aws:sns:us-east-1:123456789012:tiergate-alarms"
    version = "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111"
    printed = run(
        [str(SERVERLESS), "print", "--stage", "test", "--format", "json",
         "--param", f"alarmTopicArn={topic}", "--param", f"secretVersion=:{version}"],
        SLS_TELEMETRY_DISABLED="1", SLS_NOTIFICATIONS_MODE="off",
    )  # fmt: skip
    assert printed.returncode == 0, printed.stdout + printed.stderr
    provider = json.loads(printed.stdout[printed.stdout.index("{") :])["provider"]
    assert provider["stackParameters"] == [
        {"ParameterKey": "AlarmTopicArn", "ParameterValue": topic}
    ]
    # A new secret version changes the reference, which is what makes CloudFormation read it.
    assert provider["environment"]["STRIPE_WEBHOOK_SECRET"] == (
        "{{resolve:secretsmanager:tiergate/test:SecretString:STRIPE_WEBHOOK_SECRET::"
        f"{version}}}}}"
    )


def test_the_package_carries_its_dependencies_not_the_runtimes() -> None:
    with zipfile.ZipFile(ROOT / ".build" / "lambda.zip") as archive:
        tops = {name.split("/")[0] for name in archive.namelist()}
    assert {"tiergate", "api", "fastapi", "mangum", "pydantic_core", "stripe"} <= tops
    assert not tops & {"boto3", "botocore", "uvicorn", "yaml"}
    with zipfile.ZipFile(ROOT / ".build" / "lambda.zip") as archive:
        compiled = [n for n in archive.namelist() if n.endswith(".so")]
    assert any(n.startswith("pydantic_core/") for n in compiled)
    # Built for Lambda's python3.12 on Graviton, whatever this machine is.
    assert all(n.endswith(".cpython-312-aarch64-linux-gnu.so") for n in compiled), compiled
