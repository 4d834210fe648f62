"""What a cold start of the API function loads, with Upstash and a table configured: what a
request needs, not the in-process stores, the schedule, the CLI or any tool
(bench/coldstart.py times it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from .packaged import ROOT

PRODUCTION = {
    "TIERGATE_ENV": "production",
    "UPSTASH_REDIS_REST_URL": "http://127.0.0.1:9",  # nothing is called at import
    "UPSTASH_REDIS_REST_TOKEN": "cold",
    "TIERGATE_TABLE": "tiergate-cold",
    "AWS_REGION": "us-east-1",
    "STRIPE_SECRET_KEY": "sk_test_cold",
    "STRIPE_WEBHOOK_SECRET": "whsec_cold",
}
PROBE = "import json, sys, api.index; print(json.dumps(sorted(sys.modules)))"
# Each room's section of the settings is read with every other section (tiergate.config);
# the rooms' packages load nothing else until a name of theirs is used.
SETTINGS_SECTIONS = {
    "tiergate.schedule", "tiergate.schedule.settings",
    "tiergate.alerts", "tiergate.alerts.settings",
}  # fmt: skip


def loaded(**env: str) -> list[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TIERGATE_", "UPSTASH_"))}
    clean.pop("VERCEL", None)
    clean.pop("CRON_SECRET", None)
    path = os.pathsep.join([str(ROOT / "lib"), str(ROOT)])
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env={**clean, **env, "PYTHONPATH": path}, cwd=ROOT,
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    modules: list[str] = json.loads(done.stdout.splitlines()[-1])
    return modules


def test_a_cold_start_loads_no_in_process_store_no_schedule_and_no_tool() -> None:
    modules = loaded(**PRODUCTION)
    assert "tiergate.store.upstash" in modules  # what a request needs is there
    assert "tiergate.registry.dynamo" in modules
    assert "tiergate.observe.counting" in modules  # measuring is on
    unwanted = ("tiergate_tools", "tiergate.store.memory", "tiergate.registry.memory",
                "tiergate.schedule", "tiergate.admin", "tiergate.cli",
                # the rooms' storage (wiring.Rooms), made when a room first asks
                "tiergate.alerts", "tiergate.ledger", "tiergate.meter.outbox",
                "tiergate.meter.index", "tiergate.store.bounded")  # fmt: skip
    assert [m for m in modules if m.startswith(unwanted) and m not in SETTINGS_SECTIONS] == []
    # The meter push is the scheduled function's (billing/meter_events.py, the events' shape,
    # still comes with the Stripe gateway's protocol).
    assert not {"tiergate.meter.push", "tiergate.meter.report"} & set(modules)


def test_the_embedded_default_still_loads_its_in_process_stores() -> None:
    modules = loaded()
    assert {"tiergate.store.memory", "tiergate.registry.memory"} <= set(modules)
    unwanted = ("tiergate_tools", "tiergate.schedule")
    assert not [m for m in modules if m.startswith(unwanted) and m not in SETTINGS_SECTIONS]
