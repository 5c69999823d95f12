"""``appliance transcribe FILE...``: audio files to text, one stdout line per file.

The model is loaded once for the whole batch. A file that cannot be read gets a message on
stderr and an empty stdout line (so line N still belongs to file N); the rest still runs and
the exit status says that something failed.
"""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    from appliance.cli import add_config_arg
    from appliance.config import STT_ENGINES

    p = sub.add_parser(
        "transcribe", help="transcribe audio files (WAV/MP3/FLAC/OGG, any rate/channels)",
        description=__doc__,
    )
    add_config_arg(p)
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--engine", choices=STT_ENGINES, help="override stt.engine")
    p.add_argument("--language", help="override stt.language (e.g. es, en)")
    p.add_argument("--with-names", action="store_true", help="prefix each line with FILE<TAB>")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from appliance import config
    from appliance.audio.files import AudioFileError, read_audio
    from appliance.listen.stt.factory import load_engine
    from appliance.system.modelstore import ModelMissing, ModelStore

    settings = config.load(args.config)
    changes = {k: v for k, v in (("engine", args.engine), ("language", args.language)) if v}
    if changes:
        settings = config.replace(settings, stt=changes)
    try:
        engine = load_engine(settings.stt, ModelStore(settings.cache_path))
    except ModelMissing as exc:
        print(f"appliance transcribe: {exc}", file=sys.stderr)
        return 1
    failed = 0
    for name in args.files:
        try:
            text = engine.transcribe(read_audio(name))
        except AudioFileError as exc:
            print(f"appliance transcribe: {exc}", file=sys.stderr)
            failed += 1
            text = ""
        print(f"{name}\t{text}" if args.with_names else text, flush=True)
    if failed:
        print(f"appliance transcribe: {failed} of {len(args.files)} files failed", file=sys.stderr)
    return 1 if failed else 0
