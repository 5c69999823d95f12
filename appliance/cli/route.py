"""``appliance route "texto"`` / ``appliance route --jsonl``: what the router decides, as JSON."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from appliance.brain.router import RouteResult


def register(sub: argparse._SubParsersAction) -> None:
    from appliance.cli import add_config_arg

    p = sub.add_parser("route", help="route a transcript: instant template or LLM (JSON out)")
    add_config_arg(p)
    p.add_argument("text", nargs="?", help="the transcript (omit with --jsonl)")
    p.add_argument("--jsonl", action="store_true",
                   help="read one text per line on stdin, print one JSON object per line")
    p.add_argument("--prev", metavar="INTENT", default=None,
                   help="intent of the previous turn (e.g. llm, timer_set)")
    p.set_defaults(func=cmd_route)


def _out(result: RouteResult) -> str:
    d = result.to_dict()
    keys = ("text", "route", "intent", "slots", "confidence", "ms", "lang", "top_intent")
    return json.dumps({k: d[k] for k in keys}, ensure_ascii=False)


def cmd_route(args: argparse.Namespace) -> int:
    from appliance import config
    from appliance.brain.router import CLASSES, Router

    if args.prev is not None and args.prev not in CLASSES:
        print(f"appliance route: --prev must be one of {', '.join(CLASSES)}", file=sys.stderr)
        return 2
    if not args.jsonl and not args.text:
        print('appliance route: give a text, e.g. appliance route "¿qué hora es?", or --jsonl',
              file=sys.stderr)
        return 2
    settings = config.load(args.config)
    router = Router.load(settings.state_path, settings.brain.router_threshold)
    if not args.jsonl:
        print(_out(router.route(args.text, args.prev)))
        return 0
    for line in sys.stdin:
        text = line.rstrip("\n")
        if text.strip():
            print(_out(router.route(text, args.prev)), flush=True)
    return 0
