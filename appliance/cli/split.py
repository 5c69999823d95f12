"""``appliance split``: the sentences the speaker would say, one by one, for text on stdin."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    from appliance.cli import add_config_arg

    p = sub.add_parser(
        "split", help="split Spanish text on stdin into sentences (prints a JSON array)"
    )
    add_config_arg(p)
    p.add_argument(
        "--first-max-chars", type=int, default=None, metavar="N",
        help="cut an overlong first sentence at a clause after N chars "
        "(default: speak.first_sentence_max_chars)",
    )
    p.set_defaults(func=cmd_split)


def cmd_split(args: argparse.Namespace) -> int:
    import json
    import sys

    from appliance import config
    from appliance.brain.splitter import SentenceSplitter

    limit = args.first_max_chars
    if limit is None:
        limit = config.load(args.config).speak.first_sentence_max_chars
    if limit < 20:
        print(f"appliance split: --first-max-chars must be at least 20, got {limit}",
              file=sys.stderr)
        return 2
    splitter = SentenceSplitter(limit)
    sentences: list[str] = []
    for line in sys.stdin:  # streams: long input is split as it arrives
        sentences += splitter.feed(line)
    sentences += splitter.flush()
    print(json.dumps(sentences, ensure_ascii=False))
    return 0
