"""``appliance ask "TEXTO"``: one text turn through the real brain - router, templates,
timers, the LLM backend (the home server first when one is configured, then the local model)
- printing the answer sentence by sentence as it streams. Without TEXTO each line of stdin is
a turn of one conversation (the context carries over). ``--json``: one JSON object per turn
(question, route, intent, answer, source: template/server/local/apology, first_token_ms,
total_ms). ``--speak``: also say each sentence on the playback device as it comes.

For debugging the brain, and for checking a server before pointing a device at it. Timers
and volume set here live in a temporary directory: the console never touches the service's.
"""

from __future__ import annotations

import argparse
import json
import logging
import queue
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from appliance.brain.worker import BrainWorker
    from appliance.config import Settings


def register(sub: argparse._SubParsersAction) -> None:
    from appliance.cli import add_config_arg

    p = sub.add_parser("ask", help="a text turn (or stdin lines) through the real brain",
                       description=__doc__)
    add_config_arg(p)
    p.add_argument("text", nargs="?", help="the question; omit to read one turn per stdin line")
    p.add_argument("--json", action="store_true", help="one JSON object per turn on stdout")
    p.add_argument("--speak", action="store_true", help="also say the answer (playback device)")
    p.set_defaults(func=cmd_ask)


class Printer:
    """The brain's downstream: prints each sentence as it comes (unless ``quiet``), and hands
    it to the speaker when there is one."""

    def __init__(self, out: TextIO, quiet: bool, speaker: Speaker | None) -> None:
        self.out, self.quiet, self.speaker = out, quiet, speaker
        self.printed = False

    def put(self, msg: Any, timeout: float | None = None) -> None:
        from appliance.pipeline.messages import SpeakRequest

        if not isinstance(msg, SpeakRequest) or not msg.text:
            return  # look-ahead hints are for the TTS producer
        if not self.quiet:
            print(("" if not self.printed else " ") + msg.text, end="", file=self.out,
                  flush=True)
            self.printed = True
        if self.speaker is not None:
            self.speaker.say(msg.text)


class Speaker:
    """Says sentences in order on the playback device, in its own thread, so the brain keeps
    streaming while the first sentence plays."""

    def __init__(self, settings: Settings) -> None:
        from appliance.speak.tts.factory import create_engine
        from appliance.system.modelstore import ModelStore

        self.settings = settings
        self.engine = create_engine(settings, ModelStore(settings.cache_path))
        self.failed = False
        self._texts: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="ask-speaker", daemon=True)
        self._thread.start()

    def say(self, text: str) -> None:
        self._texts.put(text)

    def finish(self) -> bool:
        """Wait until everything was said; False if playback failed."""
        self._texts.put(None)
        self._thread.join()
        return not self.failed

    def _run(self) -> None:
        from appliance.cli.say import play
        from appliance.core.pcm import resample, to_int16

        style = self.settings.tts.styles[self.settings.tts.style]
        while (text := self._texts.get()) is not None:
            if self.failed:
                continue
            audio = self.engine.synthesize(text, style)
            pcm = to_int16(resample(audio, self.engine.sample_rate,
                                    self.settings.audio.playback_rate))
            self.failed = play(pcm, self.settings, "appliance ask") != 0


def cmd_ask(args: argparse.Namespace) -> int:
    from appliance import config

    if args.text is not None and not args.text.strip():
        print("appliance ask: nothing to ask (empty text)", file=sys.stderr)
        return 2
    if not args.verbose:  # a console: model loading is noise, failures (errors) still show
        logging.getLogger("appliance").setLevel(logging.WARNING)
    settings = config.load(args.config)
    questions = [args.text] if args.text is not None else _lines(sys.stdin)
    speaker = _speaker(settings) if args.speak else None
    if args.speak and speaker is None:
        return 1
    with tempfile.TemporaryDirectory(prefix="appliance-ask-") as tmp:
        return ask(settings, questions, as_json=args.json, speaker=speaker, state_dir=Path(tmp))


def _speaker(settings: Settings) -> Speaker | None:
    from appliance.speak.tts.base import TtsError

    try:
        return Speaker(settings)
    except TtsError as exc:
        print(f"appliance ask: cannot speak: {exc}", file=sys.stderr)
        return None


def _lines(stream: TextIO) -> Iterator[str]:
    """Non-empty stdin lines, prompting when a person types them."""
    prompt = stream.isatty()
    while True:
        if prompt:
            print("> ", end="", file=sys.stderr, flush=True)
        line = stream.readline()
        if not line:
            return
        if line.strip():
            yield line.strip()


def ask(settings: Settings, questions: Iterable[str], *, as_json: bool = False,
        speaker: Speaker | None = None, state_dir: Path) -> int:
    """Each question a turn of one conversation; the answer printed as it streams."""
    from appliance.app import build_text_brain
    from appliance.pipeline.messages import Transcript

    out = sys.stdout
    printer = Printer(out, as_json, speaker)
    brain = build_text_brain(settings, printer, state_dir=state_dir)
    brain.setup()
    for n, question in enumerate(questions, 1):
        printer.printed = False
        t0 = time.monotonic()
        brain.handle(Transcript(utterance=n, text=question, final=True, t_done=t0))
        total = time.monotonic() - t0
        if as_json:
            print(json.dumps(_record(brain, total), ensure_ascii=False), file=out, flush=True)
        else:
            print(file=out, flush=True)
    return 0 if speaker is None or speaker.finish() else 1


def _record(brain: BrainWorker, total_s: float) -> dict[str, Any]:
    r = brain.last_answer
    assert r is not None
    first = None if r.first_token_s is None else round(1000 * r.first_token_s)
    return {"question": r.question, "route": r.route, "intent": r.intent, "answer": r.answer,
            "source": r.source, "first_token_ms": first, "total_ms": round(1000 * total_s),
            "cut_off": r.cut_off}
