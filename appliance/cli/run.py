"""``appliance run``: the service. Starts the pipeline, tells systemd when it is ready, pets
the watchdog while every worker is healthy, and stops within two seconds on SIGINT/SIGTERM -
also while it is still loading models, and with status 0 even if a synthesis was cut."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading

from appliance import config

log = logging.getLogger("appliance.run")

STOP_S = 1.2  # how long workers get to finish on SIGTERM: the whole stop stays under 2 s


def register(sub: argparse._SubParsersAction) -> None:
    from appliance.cli import add_config_arg

    p = sub.add_parser("run", help="run the appliance service (what systemd starts)")
    add_config_arg(p)
    p.add_argument("--ready-timeout", type=float, default=300.0, metavar="S",
                   help="give up on start-up (no READY=1) after this many seconds")
    p.set_defaults(func=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    settings = config.load(args.config)
    config.check_secrets(settings)
    ready = threading.Event()  # from here on a stop is an orderly one
    app = None

    def on_signal(signum: int, _frame: object) -> None:
        name = signal.Signals(signum).name
        if not ready.is_set():
            # Starting: nothing to finish (every state change is already on disk), and a model
            # load cannot be interrupted, so leave now rather than make systemd wait for READY.
            log.info("received %s during start-up, exiting", name)
            _exit_now(0)
        log.info("received %s, stopping", name)
        if app is not None:
            app.supervisor.request_stop()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    from appliance.app import build_pipeline  # heavy: after the handlers are in place
    from appliance.cli import setup_logging
    from appliance.pipeline.watchdog import WatchdogLoop
    from appliance.system.notify import Notifier

    setup_logging(args.verbose, settings.service.log_level)
    app = build_pipeline(settings)
    notifier = Notifier.from_env()
    watchdog = WatchdogLoop(app.supervisor, notifier, state_fn=app.state_text)
    app.start()
    watchdog.start()
    if not watchdog.ready(args.ready_timeout):
        if not app.stop():
            _exit_now(1)
        return 1
    ready.set()
    app.supervisor.wait()
    notifier.stopping("stopping")
    watchdog.stop()
    if not app.stop(STOP_S, prerender_s=0.2):
        log.warning("stopping: some workers were still busy after %.1f s; exiting anyway", STOP_S)
    # Whatever is still inside native code (a synthesis, a model call) ends with the process;
    # every state change is on disk already.
    _exit_now(0)
    return 0


def _exit_now(code: int) -> None:
    """Leave without waiting for worker threads still inside native code (a model load, a
    synthesis): tearing the interpreter down under them can crash it at the last moment."""
    for handler in logging.getLogger().handlers:
        handler.flush()
    os._exit(code)
