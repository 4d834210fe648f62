"""`tiergate serve`: the example API on this machine, with a demo key per tier and the
embedded default's schedule running in-process."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

__all__ = ["add_serve_command"]


def add_serve_command(commands: Any) -> None:  # argparse's subparsers action is private
    serve = commands.add_parser("serve", help="run the example API with demo keys")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(run=_serve)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from ..config import Settings
    from ..schedule.runner import job_runner
    from ..telemetry import SERVICE_API
    from ..web.example import create_app
    from ..web.scheduled import run_in_background
    from ..wiring import build

    settings = Settings()
    # On the developer's terminal: costs are recorded (TIERGATE_RECORD_COSTS=false: off), and
    # every request gets tiergate's own access line (TIERGATE_ACCESS_LOG to change it), which
    # names a key by its id and never prints the query string, as a short line for a person
    # (TIERGATE_LOG_FORMAT=json for the deployed lines); no EMF documents, which are for
    # CloudWatch (TIERGATE_EMF=true). Uvicorn's access line is off: it prints the path and
    # query as sent, a key put there by mistake included.
    defaults = {"record_costs": True, "access_log": "all", "log_format": "text", "emf": False}
    given = settings.observe.model_fields_set
    settings = settings.replace(**{k: v for k, v in defaults.items() if k not in given})
    parts = build(settings)
    app = create_app(settings, parts=parts)
    # The embedded default's schedule: the meter push and alert delivery in-process.
    runner = job_runner(parts, settings, service=SERVICE_API)
    run_in_background(app, runner, interval_s=settings.schedule.background_interval)
    keys = asyncio.run(parts.demo_keys())
    for tier, key in keys.items():
        print(f"demo key {tier}: {key}", flush=True)
    observe = settings.observe
    if observe.record_costs and observe.measure:
        from ..observe.recording import recorded_path

        print(f"recording costs for `tiergate costs` in {recorded_path(observe)}", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", access_log=False)
    return 0
