"""``appliance say "texto"``: speak a text with the configured engine and style, to the
playback device or to a WAV file - the quickest way to hear what the appliance sounds like."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from appliance.config import Settings


def register(sub: argparse._SubParsersAction) -> None:
    from appliance.cli import add_config_arg
    from appliance.config import TTS_ENGINES

    p = sub.add_parser("say", help="speak a text (to the speaker or a WAV file)")
    p.add_argument("text", help="what to say (Spanish)")
    p.add_argument("--style", help="named style from tts.styles (default: tts.style)")
    p.add_argument("--engine", choices=TTS_ENGINES, help="TTS engine (default: tts.engine)")
    p.add_argument("--out", metavar="FILE.wav", help="write a WAV file instead of playing")
    add_config_arg(p)
    p.set_defaults(func=cmd_say)


def cmd_say(args: argparse.Namespace) -> int:
    from appliance import config
    from appliance.core.pcm import resample, to_int16
    from appliance.speak.tts.base import TtsError
    from appliance.speak.tts.factory import create_engine
    from appliance.system.modelstore import ModelStore

    settings = config.load(args.config)
    style_name = args.style or settings.tts.style
    if style_name not in settings.tts.styles:
        print(f"appliance say: unknown style {style_name!r}; choose one of "
              f"{', '.join(settings.tts.styles)}", file=sys.stderr)
        return 2
    if not args.text.strip():
        print("appliance say: nothing to say (empty text)", file=sys.stderr)
        return 2
    try:
        engine = create_engine(settings, ModelStore(settings.cache_path), engine=args.engine)
        started = time.perf_counter()
        audio = engine.synthesize(args.text, settings.tts.styles[style_name])
    except TtsError as exc:
        print(f"appliance say: {exc}", file=sys.stderr)
        return 1
    took = time.perf_counter() - started
    seconds = audio.size / engine.sample_rate
    print(f"{engine.name}: {seconds:.2f}s of audio in {took:.2f}s "
          f"(RTF {took / max(seconds, 1e-9):.2f})", file=sys.stderr)
    if args.out:
        import soundfile as sf

        sf.write(args.out, to_int16(audio), engine.sample_rate, subtype="PCM_16")
        return 0
    pcm = to_int16(resample(audio, engine.sample_rate, settings.audio.playback_rate))
    return play(pcm, settings)


def play(pcm: np.ndarray, settings: Settings, who: str = "appliance say") -> int:
    """``pcm`` (int16 at the playback rate) period by period to the device, as the playback
    worker writes it (``appliance ask --speak`` too). Errors are printed, as ``who``."""
    from appliance.audio.alsa import ALSAAudioError, open_playback
    from appliance.audio.playback import playback_spec

    spec = playback_spec(settings.audio)
    period = spec.period_frames
    try:
        dev = open_playback(spec)
    except ALSAAudioError as exc:
        print(f"{who}: {exc}" + ("; use --out FILE.wav to write a file instead"
                                 if who == "appliance say" else ""), file=sys.stderr)
        return 1
    import numpy as np

    try:
        pad = (-pcm.size) % period
        pcm = np.concatenate([pcm, np.zeros(pad, np.int16)])
        for start in range(0, pcm.size, period):
            dev.write(pcm[start : start + period].tobytes())
        dev.drain()
    except ALSAAudioError as exc:
        print(f"{who}: playback failed: {exc}", file=sys.stderr)
        return 1
    finally:
        dev.close()
    return 0
