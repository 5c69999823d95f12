"""Command line: ``appliance SUBCOMMAND``. One module per subcommand, each with
``register(subparsers)`` that adds its parser and sets ``func(args) -> int``.

Subcommand modules import their heavy dependencies inside ``func`` so ``appliance --help``
and the service start stay fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys

from appliance import __version__
from appliance.config import ConfigError


def _command_modules() -> list[str]:
    """Every module in this package is a subcommand: adding one needs no edit here."""
    import pkgutil

    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="appliance", description="Offline Spanish-first kitchen smart speaker."
    )
    parser.add_argument("--version", action="version", version=f"appliance {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _command_modules():
        module = importlib.import_module(f"appliance.cli.{name}")
        module.register(sub)
    return parser


def add_config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", "-c", metavar="FILE", default=None,
        help="YAML settings (see config.example.yaml); default: built-in defaults",
    )


def setup_logging(verbose: bool, level: str = "INFO") -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else getattr(logging, level, logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # it logs every request at INFO


def _leave(signum: int, _frame: object) -> None:
    os._exit(0)


def main(argv: list[str] | None = None) -> int:
    # Until a command sets its own (``run`` does), a SIGTERM - systemd stopping the service
    # while Python is still importing - ends the process at once with status 0. Before this
    # line the default action ends it too, which systemd also counts as a clean stop.
    signal.signal(signal.SIGTERM, _leave)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    setup_logging(args.verbose)
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"appliance: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
