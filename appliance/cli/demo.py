"""``appliance demo``: a scripted conversation through the real pipeline on FIFO-backed ALSA
devices (no sound card needed); writes a stereo recording of the conversation and a
report.json with per-turn figures. The built-in script is the design document's five
scenarios (short query, medium explanation, long answer, interruption at 5 s, multi-turn) plus
a sentence with a pause inside, an announcement and a timer cancel;
``--script FILE.yaml`` plays any other (format: appliance/demo/script.py).

``appliance demo --input-only``: just the input half. Spanish utterances (shipped Kokoro
clips) with silence between them become the input file of a file-backed ALSA capture PCM
defined in a temporary ALSA config; the real pipeline (capture -> Silero VAD -> STT) runs on
it, and each utterance is printed with where it really was, where the VAD put it, what STT
heard and how long that took.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from appliance.config import Settings
    from appliance.demo.speech import Utterance
    from appliance.pipeline.messages import Transcript

DEVICE = "appliance_demo_mic"


def register(sub: argparse._SubParsersAction) -> None:
    from appliance.cli import add_config_arg

    p = sub.add_parser("demo", help="a scripted conversation with the real pipeline",
                       description=__doc__)
    add_config_arg(p)
    p.add_argument("--timeout", type=float, default=600.0, metavar="S",
                   help="give up on start-up (models, answers prepared) after this many seconds "
                        "(default 600)")
    p.add_argument("--out", type=Path, default=Path("demo-out"), metavar="DIR",
                   help="where conversation.wav and report.json go (default ./demo-out)")
    p.add_argument("--script", type=Path, default=None, metavar="FILE.yaml",
                   help="the conversation to play (default: the built-in demo)")
    p.add_argument("--input-only", action="store_true",
                   help="only capture -> VAD -> STT on a few utterances")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    from appliance import config

    settings = config.load(args.config)
    if args.input_only:
        return run_input_demo(settings, timeout=args.timeout)
    from appliance.demo.run import run_script
    from appliance.demo.script import BUILTIN, ScriptError, load_script

    try:  # every file and key is checked before anything starts
        script = load_script(args.script or BUILTIN)
    except ScriptError as exc:
        print(f"appliance demo: {exc}", file=sys.stderr)
        return 2
    return run_script(settings, script, args.out, timeout_s=args.timeout)


def run_input_demo(settings: Settings, *, timeout: float = 300.0, out: TextIO = sys.stdout) -> int:
    import numpy as np

    from appliance import config
    from appliance.app import LISTENING, build_pipeline
    from appliance.audio.alsa import file_capture_pcm, write_config
    from appliance.core.pcm import SPEECH_RATE, to_int16
    from appliance.demo.speech import DEMO_SENTENCES, compose, recorded
    from appliance.listen.wer import wer
    from appliance.pipeline.inbox import Inbox
    from appliance.pipeline.messages import Transcript

    clips = recorded(DEMO_SENTENCES)
    # The file PCM below is not paced: the VAD runs through it far faster than real time, so
    # the STT's early end of turn lands seconds late in stream time. Gaps longer than
    # turn.max_pause_ms end each turn by silence alone.
    gap_s = settings.turn.max_pause_ms / 1000 + 0.7
    signal, truth = compose(clips, lead_s=1.0, gap_s=gap_s, tail_s=gap_s + 0.5)
    # A file PCM repeats its last buffer once the file ends: end on plenty of silence and
    # stop capturing before that point.
    settings = config.replace(settings, audio={"sample_rate": SPEECH_RATE})
    period = SPEECH_RATE * settings.audio.period_ms // 1000
    frames = len(signal) // period
    pcm = to_int16(np.concatenate([signal, np.zeros(SPEECH_RATE, np.float32)]))

    with tempfile.TemporaryDirectory(prefix="appliance-demo-") as tmp:
        raw = Path(tmp) / "mic.raw"
        raw.write_bytes(pcm.tobytes())
        os.environ["ALSA_CONFIG_PATH"] = write_config(Path(tmp) / "asound-demo.conf",
                                                      [file_capture_pcm(DEVICE, raw)])
        settings = config.replace(settings, audio={"capture_device": DEVICE})

        print(f"demo: {len(truth)} utterances, {len(signal) / SPEECH_RATE:.1f} s of audio through "
              f"ALSA PCM {DEVICE!r} -> VAD -> STT ({settings.stt.engine}, "
              f"{settings.stt.language})", file=out, flush=True)
        t_load = time.monotonic()
        transcripts = Inbox(256)
        # The file PCM is not paced: it delivers the whole file at once. The VAD's inbox
        # holds all of it instead of dropping the oldest frames as it does live.
        app = build_pipeline(settings, stages=LISTENING, transcripts=transcripts,
                             max_frames=frames, capture_backlog=frames + 64)
        app.supervisor.start()
        finals: list[Transcript] = []
        deadline = time.monotonic() + timeout
        try:
            if not app.supervisor.wait_ready(timeout):
                print("demo: the pipeline did not start", file=sys.stderr)
                return 1
            print(f"demo: models loaded in {time.monotonic() - t_load:.1f} s", file=out)
            quiet_since = time.monotonic()
            while len(finals) < len(truth) and time.monotonic() < deadline:
                msg = transcripts.get(0.2)
                if isinstance(msg, Transcript) and msg.final:
                    finals.append(msg)
                    _print_utterance(out, msg, truth, app.stt.decode_time(msg.utterance))
                busy = (msg is not None or not app.capture.finished.is_set()
                        or len(app.vad.inbox) or len(app.stt.inbox)
                        or app.vad.utterances > len(finals))
                if busy:
                    quiet_since = time.monotonic()
                elif time.monotonic() - quiet_since > 5.0:
                    break  # all captured and processed: nothing more will come
        finally:
            app.supervisor.stop(2.0)

    known = [f for f in finals if 0 < f.utterance <= len(truth)]
    refs = [truth[f.utterance - 1].text for f in known]
    score = wer(refs, [f.text for f in known], settings.stt.language) if known else 1.0
    print(f"demo: {len(finals)}/{len(truth)} utterances transcribed, word error rate "
          f"{score:.0%}; STT real-time factor {app.stt.stats()['rtf']:.2f}", file=out)
    return 0 if len(finals) == len(truth) else 1


def _print_utterance(out: TextIO, msg: Transcript, truth: list[Utterance],
                     decode_s: float | None) -> None:
    true = truth[msg.utterance - 1] if 0 < msg.utterance <= len(truth) else None
    where = f"{msg.t_start:6.2f}-{msg.t_end:6.2f} s"
    if true is not None:
        where += (f" (true {true.start:.2f}-{true.end:.2f}, "
                  f"error {1000 * (msg.t_start - true.start):+.0f}/"
                  f"{1000 * (msg.t_end - true.end):+.0f} ms)")
    print(f"[{msg.utterance}] {where}", file=out)
    print(f"    heard: {msg.text}", file=out)
    if true is not None:
        print(f"    said:  {true.text}", file=out)
    took = f"{1000 * decode_s:.0f} ms" if decode_s is not None else "?"
    # The file PCM is not paced, so the VAD ends every utterance at once: the wait includes
    # decoding the utterances before this one.
    print(f"    STT decode {took}; transcript ready "
          f"{1000 * (msg.t_done - msg.t_detected):.0f} ms after the VAD's speech-end decision",
          file=out, flush=True)
