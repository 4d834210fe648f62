"""What stands between the internet and the functions, in the packaged template: reserved
concurrency, API Gateway's throttles, the access log, and which secrets each function gets."""

from __future__ import annotations

import json
from typing import Any

from tiergate.config import Settings

from .packaged import Packaged

WEBHOOK_ROUTE = "POST /webhooks/stripe"
WARMUP_ROUTE = "GET /internal/warmup"
BILLING_ROUTES = {"POST /v1/billing/checkout", "POST /v1/billing/portal"}
SECRETS = {
    "UPSTASH_REDIS_REST_URL",
    "UPSTASH_REDIS_REST_TOKEN",
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "TIERGATE_WARMUP_SECRET",
}


def throttle(settings: dict[str, Any]) -> tuple[int, int]:
    return settings["ThrottlingRateLimit"], settings["ThrottlingBurstLimit"]


def stage(packaged: Packaged) -> dict[str, Any]:
    (found,) = packaged.resources("AWS::ApiGatewayV2::Stage").values()
    return dict(found)


def test_free_traffic_and_the_webhook_have_reserved_concurrency(packaged: Packaged) -> None:
    reserved = {
        name: spec.get("ReservedConcurrentExecutions")
        for name, spec in packaged.functions().items()
    }
    # The paid function's ceiling is its autoscaling maximum (paidProvisionedMax).
    assert reserved == {
        "ApiFreeLambdaFunction": 20,
        "ApiPaidLambdaFunction": None,
        "WebhookLambdaFunction": 10,
        "ScheduledLambdaFunction": 1,  # one run at a time
    }


def test_every_route_is_throttled_and_the_exposed_ones_tighter(packaged: Packaged) -> None:
    properties = stage(packaged)["Properties"]
    default = throttle(properties["DefaultRouteSettings"])
    own = {key: throttle(value) for key, value in properties["RouteSettings"].items()}
    routes = packaged.routes()
    assert set(own) <= set(routes), "a throttle for a route that does not exist"
    assert default == (100, 200)
    # The warm function: a flood of made-up keys must not drive its autoscaling.
    paid = {key for key, function in routes.items() if function == "ApiPaidLambdaFunction"}
    assert paid
    assert all(own[key] == (100, 200) for key in paid)
    assert own[WEBHOOK_ROUTE] == (25, 50)
    assert all(own[key] == (5, 10) for key in BILLING_ROUTES)
    # Every route that takes no API key (outside the gated prefix, the webhook aside) has a
    # throttle of its own, the tightest: a new ungated route without one fails here.
    prefix = Settings().gate.prefix + "/"
    public = {
        key for key in routes if not key.split(" ")[1].startswith(prefix) and key != WEBHOOK_ROUTE
    }
    assert public == {"GET /healthz", WARMUP_ROUTE, "GET /docs", "GET /openapi.json"}
    assert all(own.get(key) == (5, 10) for key in public), own
    # The stage may name a route only once the route exists.
    route_ids = {
        props["Properties"]["RouteKey"]: name
        for name, props in packaged.resources("AWS::ApiGatewayV2::Route").items()
    }
    assert {route_ids[key] for key in own} <= set(stage(packaged)["DependsOn"])


def test_the_access_log_is_json_kept_and_free_of_what_clients_send(packaged: Packaged) -> None:
    settings = stage(packaged)["Properties"]["AccessLogSettings"]
    assert settings["DestinationArn"] == {"Fn::GetAtt": ["HttpApiLogGroup", "Arn"]}
    group = packaged.template["Resources"]["HttpApiLogGroup"]["Properties"]
    assert group["RetentionInDays"] == 30
    line = json.loads(settings["Format"])  # one JSON object a request
    assert line["route"] == "$context.routeKey"
    assert {"requestId", "status", "ip", "latencyMs", "error"} <= set(line)
    # A key sent in a query string (or any header) must not be written: no raw path, no
    # query, no headers; the route template names the route instead.
    for variable in line.values():
        assert not variable.startswith(("$context.path", "$request.", "$context.authorizer"))
        assert "querystring" not in variable.lower()


def test_each_function_gets_only_the_secrets_it_uses(packaged: Packaged) -> None:
    functions = packaged.functions()
    given = {
        name: set(spec["Environment"]["Variables"]) & SECRETS for name, spec in functions.items()
    }
    api = SECRETS - {"STRIPE_WEBHOOK_SECRET"}
    webhook = SECRETS - {"TIERGATE_WARMUP_SECRET"}
    # The scheduled runs serve no HTTP route: neither the webhook's nor the warm-up's secret.
    scheduled = SECRETS - {"STRIPE_WEBHOOK_SECRET", "TIERGATE_WARMUP_SECRET"}
    assert given == {
        "ApiFreeLambdaFunction": api,
        "ApiPaidLambdaFunction": api,
        "WebhookLambdaFunction": webhook,
        "ScheduledLambdaFunction": scheduled,
    }
    # Grounded in the routes: the webhook secret goes only where Stripe's deliveries arrive,
    # the warm-up secret only where the warm-up route is served.
    routes = packaged.routes()
    assert {f for f, s in given.items() if "STRIPE_WEBHOOK_SECRET" in s} == {routes[WEBHOOK_ROUTE]}
    assert {f for f, s in given.items() if "TIERGATE_WARMUP_SECRET" in s} >= {routes[WARMUP_ROUTE]}
    for name, spec in functions.items():
        env = spec["Environment"]["Variables"]
        for var in given[name]:  # references CloudFormation resolves, never values
            assert env[var] == (
                f"{{{{resolve:secretsmanager:tiergate/test:SecretString:{var}:AWSCURRENT}}}}"
            ), (name, var)
