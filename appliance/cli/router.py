"""``appliance router retrain|eval``: fold the usage log into the router (nightly timer)."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    from appliance.cli import add_config_arg

    p = sub.add_parser("router", help="retrain or evaluate the intent router")
    rsub = p.add_subparsers(dest="router_command", metavar="ACTION")
    rp = rsub.add_parser("retrain", help="retrain from base data + log; swap only if not worse")
    add_config_arg(rp)
    rp.set_defaults(func=cmd_retrain)
    ep = rsub.add_parser("eval", help="held-out accuracy of the current model")
    add_config_arg(ep)
    ep.set_defaults(func=cmd_eval)
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])


def cmd_retrain(args: argparse.Namespace) -> int:
    from appliance import config
    from appliance.brain.learning import retrain

    settings = config.load(args.config)
    print(json.dumps(retrain(settings.state_path, settings.brain.router_threshold)))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from appliance import config
    from appliance.brain.router import Router, evaluate, load_examples, split

    settings = config.load(args.config)
    router = Router.load(settings.state_path, settings.brain.router_threshold)
    _, held = split(load_examples())
    result = evaluate(router.model, held, settings.brain.router_threshold)
    print(json.dumps({**result, "meta": router.model.meta}))
    return 0
