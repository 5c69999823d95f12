"""``appliance run``: the service. Starts the pipeline, tells systemd when it is ready, pets
the watchdog while every worker is healthy, and stops within a second on SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import logging
import signal

from appliance import config

log = logging.getLogger("appliance.run")


def register(sub: argparse._SubParsersAction) -> None:
    from appliance.cli import add_config_arg

    p = sub.add_parser("run", help="run the appliance service (what systemd starts)")
    add_config_arg(p)
    p.add_argument("--ready-timeout", type=float, default=300.0, metavar="S",
                   help="give up on start-up (no READY=1) after this many seconds")
    p.set_defaults(func=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    from appliance.app import build_pipeline
    from appliance.cli import setup_logging
    from appliance.pipeline.watchdog import WatchdogLoop
    from appliance.system.notify import Notifier

    settings = config.load(args.config)
    setup_logging(args.verbose, settings.service.log_level)
    app = build_pipeline(settings)
    notifier = Notifier.from_env()
    watchdog = WatchdogLoop(app.supervisor, notifier, state_fn=app.state_text)

    def on_signal(signum: int, _frame: object) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        app.supervisor.request_stop()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    app.start()
    watchdog.start()
    if not watchdog.ready(args.ready_timeout):
        app.stop()
        return 1
    app.supervisor.wait()
    notifier.stopping("stopping")
    ok = app.stop(1.0)
    watchdog.stop()
    return 0 if ok else 1
