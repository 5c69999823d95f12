"""Brain latencies: transcript -> first request to the output side, and what it costs to sound.

For each path the brain worker gets a final Transcript and its output (the TTS producer's
input) is timestamped. "first sound" adds what the output side must still do before a sample
can play: nothing for pre-rendered audio (a cache hit), otherwise the measured synthesis time
of that first piece with the chosen engine. Playback's own start (one ~10 ms period) is not
included - bench/output.py measures it.

    .venv/bin/python bench/brain.py [--engine kokoro|espeak] [--runs 10] [--llm-runs 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from appliance import config
from appliance.app import filler_source, prerendered_from_cache
from appliance.brain.llm import LlmEngine
from appliance.brain.router import Router
from appliance.brain.templates import Templates
from appliance.brain.timers import TimerService
from appliance.brain.volume import Volume
from appliance.brain.worker import BrainWorker
from appliance.pipeline.interruption import InterruptionService
from appliance.pipeline.messages import SpeakRequest, Transcript
from appliance.pipeline.priority import PriorityQueue
from appliance.pipeline.worker import Discard
from appliance.speak.fillers import FillerBank
from appliance.speak.rendered import RenderedAudioCache
from appliance.speak.tts.factory import _build
from appliance.system.modelstore import ModelStore

STATIC = ["muchas gracias", "hola", "¿quién eres?"]
DYNAMIC = ["¿qué hora es?", "¿qué día es hoy?", "pon un temporizador de cinco minutos"]
LLM_QS = ["¿Por qué sube la masa del pan?", "¿Qué puedo hacer con calabacín?",
          "Cuéntame algo sobre el aceite de oliva."]


class Recorder:
    """The brain's downstream (the producer's inbox in the service), timestamping each item."""

    def __init__(self) -> None:
        self.items: list[tuple[float, Any]] = []

    def put(self, msg: Any, timeout: float | None = None) -> None:
        if isinstance(msg, SpeakRequest):
            self.items.append((time.monotonic(), msg))


def ms(xs: list[float]) -> str:
    return f"p50 {statistics.median(xs) * 1000:.1f} ms, max {max(xs) * 1000:.1f} ms"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engine", default="kokoro", choices=["kokoro", "espeak", "vits"])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--llm-runs", type=int, default=3)
    args = ap.parse_args()

    settings = config.from_dict({})
    style = settings.tts.styles[settings.tts.style]
    engine = _build(args.engine, settings, ModelStore(settings.cache_path))
    cache = RenderedAudioCache(engine, settings.cache_path / "rendered")
    templates = Templates.load(seed=0)
    # Pre-render what these intents can open with (all static answers would take minutes).
    now = dt.datetime.now()
    wanted = {f"{intent}.{templates.case(intent, {'seconds': 300}, now, {})}"
              for intent in ("thanks", "greeting", "identity", "time", "date", "timer_set")}
    subset = Templates({k: v for k, v in templates.table.items() if k in wanted})
    texts = subset.static_texts()
    t0 = time.monotonic()
    for text in texts:
        cache.render(text, style)
    print(f"pre-rendered {len(texts)} openings/answers with {engine.name} in "
          f"{time.monotonic() - t0:.1f} s (disk cache hits are instant)")

    state = Path(tempfile.mkdtemp(prefix="bench-brain-"))
    rec = Recorder()
    llm = LlmEngine.from_settings(settings, ModelStore(settings.cache_path))
    bank = FillerBank(cache, style)
    bank.prepare()
    timers = TimerService(state)
    brain = BrainWorker(settings, router=Router.load(state), templates=templates, downstream=rec,
                        interrupter=InterruptionService(PriorityQueue(), Discard(),
                                                        stop_alarms=timers.stop),
                        timers=timers, volume=Volume(state), llm=llm,
                        filler=filler_source(bank),
                        prerendered=prerendered_from_cache(cache, style))

    def run(text: str) -> tuple[float, list[tuple[float, Any]]]:
        rec.items.clear()
        msg = Transcript(utterance=1, text=text, final=True)
        brain.handle(msg)
        return msg.t_done, list(rec.items)

    for label, utterances in (("static", STATIC), ("dynamic", DYNAMIC)):
        first, sound = [], []
        cached = 0
        for i in range(args.runs):
            t_done, items = run(utterances[i % len(utterances)])
            t_first, req = items[0]
            first.append(t_first - t_done)
            if isinstance(req, SpeakRequest) and req.audio is not None:
                cached += 1
                sound.append(t_first - t_done)
            else:
                s0 = time.monotonic()
                engine.synthesize(req.text, style)
                sound.append(t_first - t_done + time.monotonic() - s0)
        brain.timers.cancel_all()
        print(f"template {label:7s}: transcript -> first request {ms(first)}; "
              f"-> first sound (incl. synthesis on a miss) {ms(sound)}; "
              f"opening from cache {cached}/{args.runs}")

    filler, sentence, audible, tps = [], [], [], []
    for i in range(args.llm_runs):
        brain.conversation.clear()
        t_done, items = run(LLM_QS[i % len(LLM_QS)])
        fill = [t for t, m in items if isinstance(m, SpeakRequest) and m.kind == "filler"]
        answer = [(t, m) for t, m in items if isinstance(m, SpeakRequest) and m.kind == "answer"]
        if fill:
            filler.append(fill[0] - t_done)
        if answer:
            t1, req = answer[0]
            sentence.append(t1 - t_done)
            s0 = time.monotonic()
            engine.synthesize(req.text, style)
            audible.append(t1 - t_done + time.monotonic() - s0)
        if llm.last is not None:
            tps.append(llm.last.tokens_per_s)
    print(f"llm: transcript -> filler request {ms(filler) if filler else 'none'} "
          f"(filler audio is pre-rendered: first sound = this + playback start)")
    if sentence:
        print(f"llm: transcript -> first sentence {ms(sentence)}; -> first sentence audible "
              f"(+ its synthesis, {engine.name}) {ms(audible)}")
    print(f"llm: {statistics.mean(tps):.1f} tokens/s ({llm.model_path.name}, "
          f"{settings.brain.llm_threads} threads); filler policy now predicts "
          f"{brain.filler_policy.predicted_s:.2f} s to the first sentence")


if __name__ == "__main__":
    main()
