"""``appliance doctor``: check devices, models, broker, GPIO, disk and the remote endpoints
the config names (LLM server, Wyoming servers); print a table and the fix for each failure.
Exit status 1 if a required check failed."""

from __future__ import annotations

import argparse

from appliance import config


def register(sub: argparse._SubParsersAction) -> None:
    from appliance.cli import add_config_arg

    p = sub.add_parser("doctor", help="check that everything the config needs works here")
    add_config_arg(p)
    p.set_defaults(func=cmd_doctor)


def cmd_doctor(args: argparse.Namespace) -> int:
    from appliance.app import endpoint_checks
    from appliance.system.doctor import exit_status, render, run_checks

    settings = config.load(args.config)
    checks = run_checks(settings, extra=endpoint_checks(settings))
    print(render(checks))
    return exit_status(checks)
