"""Sets the stage for a scripted conversation and writes its recording and report.

The appliance runs with its real settings except the ALSA devices (FIFO-backed, see
fifo_devices.py) and a fresh state directory (no timers or router log from earlier runs); the
cache directory is the configured one, so models and pre-rendered answers are reused.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np

from appliance import config
from appliance.config import Settings
from appliance.core.pcm import SPEECH_RATE, resample, to_float32
from appliance.demo.fifo_devices import Ear, EchoPath, Mouth, alsa_config
from appliance.demo.script import Script
from appliance.pipeline.heap import process_status

if TYPE_CHECKING:
    from appliance.app import Pipeline

MIC, SPEAKER = "appliance_demo_mic", "appliance_demo_speaker"


class StageError(RuntimeError):
    """The pipeline did not come up (models, devices, prepared answers) in time."""


@dataclass
class Stage:
    """The appliance on FIFO-backed devices, ready for a scripted person (``staged``)."""

    settings: Settings
    app: Pipeline
    mouth: Mouth
    ear: Ear
    t0: float  # monotonic time the stage started being set
    stats: dict[str, Any] = field(default_factory=dict)  # the workers' figures, at the end


@contextmanager
def staged(settings: Settings, script: Script, *, timeout_s: float = 600.0,
           say: Callable[[str], None] = print) -> Iterator[Stage]:
    """The real appliance with its real settings but FIFO-backed ALSA devices and a fresh
    state directory, started and ready (answers prepared); stopped on exit, after its
    workers' figures are kept in ``Stage.stats``. ``appliance demo`` and bench/soak.py both
    run through here. Raises ``StageError`` if it does not come up within ``timeout_s``."""
    from appliance.app import build_pipeline

    with tempfile.TemporaryDirectory(prefix="appliance-demo-") as tmp:
        alsa_path, mic_fifo, spk_fifo = alsa_config(Path(tmp), MIC, SPEAKER)
        os.environ["ALSA_CONFIG_PATH"] = alsa_path
        settings = config.replace(
            settings,
            audio={"capture_device": MIC, "playback_device": SPEAKER, "sample_rate": SPEECH_RATE},
            device={"state_dir": str(Path(tmp) / "state")},
            listen={"mode": script.mode or settings.listen.mode},
        )
        room = None
        if script.echo is not None:  # the microphone hears the loudspeaker too
            room = EchoPath(settings.audio.playback_rate, SPEECH_RATE,
                            delay_ms=script.echo.delay_ms, gain_db=script.echo.gain_db,
                            rt60_ms=script.echo.rt60_ms)
        mouth = Mouth(mic_fifo, SPEECH_RATE, settings.audio.period_ms, echo=room)
        ear = Ear(spk_fifo, settings.audio.playback_rate, echo=room)
        t0 = time.monotonic()
        say(f"demo: {script.name} ({len(script.turns)} turns, {script.path}); loading models "
            f"(STT {settings.stt.engine}, TTS {settings.tts.engine}, "
            f"LLM {settings.brain.llm_model or 'none'}) ...")
        # Prepared exactly as the service prepares: fillers, then every answer that can be
        # rendered ahead, in the background (cached on disk: a second run renders nothing).
        app = build_pipeline(settings, prerender="all")
        stage = Stage(settings, app, mouth, ear, t0)
        mouth.start()
        ear.start()
        app.start()
        try:
            if not app.supervisor.wait_ready(timeout_s):
                raise StageError("the pipeline did not start in time")
            say(f"demo: pipeline ready in {time.monotonic() - t0:.1f} s (capture {MIC!r} and "
                f"playback {SPEAKER!r} are FIFO-backed ALSA PCMs)")
            if not app.prerendered.is_set():
                say("demo: preparing the answers it can render ahead (the service does this "
                    "in the background; on disk for the next run) ...")
            if not app.prerendered.wait(timeout_s):
                raise StageError("preparing answers did not finish in time")
            say(f"demo: answers prepared after {time.monotonic() - t0:.1f} s")
            yield stage
        finally:
            stage.stats = {w.name: w.stats() for w in app.workers}
            stage.stats["queue"] = app.queue.stats()
            app.stop(2.0)
            mouth.stop()
            ear.stop()


def run_script(settings: Settings, script: Script, out_dir: Path, *,
               timeout_s: float = 600.0, out: TextIO = sys.stdout) -> int:
    """Play ``script`` to the real appliance; write conversation.wav and report.json."""
    from appliance.demo.conversation import Conversation, summary

    def say(text: str) -> None:
        print(text, file=out, flush=True)

    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        with staged(settings, script, timeout_s=timeout_s, say=say) as stage:
            conversation = Conversation(stage.app, stage.mouth, stage.ear, out=say)
            cpu0, wall0 = time.process_time(), time.monotonic()
            memory0 = process_status()
            turns = conversation.run(script)
            memory1 = process_status()
            cpu = (time.process_time() - cpu0) / max(1e-9, time.monotonic() - wall0)
            time.sleep(0.5)
            triggers = conversation.self_triggers()
    except StageError as exc:
        say(f"demo: {exc}")
        return 1
    settings, mouth, ear, stats, t0 = (stage.settings, stage.mouth, stage.ear, stage.stats,
                                       stage.t0)
    wav = out_dir / "conversation.wav"
    write_recording(wav, mouth.said(), ear.heard(), settings.audio.playback_rate, t0)
    routes = summary(turns)
    memory = {"resident_ready": round(memory0.get("VmRSS", 0)),
              "resident_end": round(memory1.get("VmRSS", 0)),
              "resident_peak": round(memory1.get("VmHWM", 0))}
    report = {
        "script": str(script.path),
        "settings": {
            "stt": settings.stt.engine, "tts": settings.tts.engine,
            "llm": settings.brain.llm_model, "style": settings.tts.style,
            "turn_model": settings.turn.model,
        },
        "load_average": os.getloadavg(),
        "echo": ({"delay_ms": script.echo.delay_ms, "gain_db": script.echo.gain_db,
                  "rt60_ms": script.echo.rt60_ms, "levels_dbfs": mouth.levels_dbfs(),
                  "cancelled": stats["capture"].get("echo_cancellation"),
                  "mic_overruns": mouth.overruns,
                  "erle_db_median": stats["capture"].get("erle_db_median")}
                 if script.echo is not None else None),
        **triggers,
        "own_speech_s": round(stats["playback"]["speech_frames"]
                              / settings.audio.playback_rate, 1),
        "cpu_cores": round(cpu, 3),  # the whole appliance (and the demo's rig), busy or not
        "memory_mb": memory,  # resident; the long-run figures: bench/soak.py
        "turns": turns,
        "summary": routes,
        "workers": stats,
        "recording": str(wav),
    }
    (out_dir / "report.json").write_text(
        json.dumps(report, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    for route, figures in routes.items():
        say(f"demo: {route} turns: " + ", ".join(
            f"{k} p50 {v['p50']:.0f} / p95 {v['p95']:.0f}" for k, v in figures.items()))
    if script.echo is not None:
        say(f"demo: its own voice at the microphone {mouth.levels_dbfs()} dBFS, echo "
            f"cancelled: ERLE median {stats['capture'].get('erle_db_median')} dB; "
            + ", ".join(f"{k} {v}" for k, v in triggers.items()))
    say(f"demo: resident memory {memory['resident_ready']} MB when ready, "
        f"{memory['resident_end']} MB at the end, peak {memory['resident_peak']} MB")
    failed = [t for t in turns if "error" in t]
    unexpected = [t for t in turns if "unexpected" in t]
    say(f"\ndemo: {len(turns) - len(failed)}/{len(turns)} turns answered"
        + (f", {len(unexpected)} not as the script expected" if unexpected else "")
        + f"; recording {wav} (left: person, right: appliance); figures "
        f"{out_dir / 'report.json'}")
    return 1 if failed else 0


def write_recording(path: Path, said: list[tuple[float, np.ndarray]],
                    heard: list[tuple[float, np.ndarray]], speaker_rate: int, t0: float) -> None:
    """A stereo 16 kHz WAV on one timeline: the person left, the appliance right."""
    import soundfile as sf

    def place(track: np.ndarray, t: float, audio: np.ndarray) -> np.ndarray:
        start = max(0, int((t - t0) * SPEECH_RATE))
        end = start + len(audio)
        if end > len(track):
            track = np.concatenate([track, np.zeros(end - len(track), np.float32)])
        track[start:end] += audio
        return track

    left = np.zeros(0, np.float32)
    for t, audio in said:
        left = place(left, t, to_float32(audio))
    right = np.zeros(0, np.float32)
    if heard:
        chunks = to_float32(np.concatenate([c for _, c in heard]))
        # The ear reads at exactly the playback rate, so its chunks are contiguous except
        # while the device was closed: place each run of back-to-back chunks at its time.
        def at_speech_rate(run: list[np.ndarray]) -> np.ndarray:
            return resample(np.concatenate(run), speaker_rate, SPEECH_RATE)

        pos = 0
        run: list[np.ndarray] = []
        run_start = heard[0][0] - len(heard[0][1]) / speaker_rate
        for i, (t, c) in enumerate(heard):
            if i and t - heard[i - 1][0] > 0.25:
                right = place(right, run_start, at_speech_rate(run))
                run_start, run = t - len(c) / speaker_rate, []
            run.append(chunks[pos : pos + len(c)])
            pos += len(c)
        if run:
            right = place(right, run_start, at_speech_rate(run))
    n = max(len(left), len(right))
    stereo = np.zeros((n, 2), np.float32)
    stereo[: len(left), 0] = left
    stereo[: len(right), 1] = right
    sf.write(path, np.clip(stereo, -1, 1), SPEECH_RATE, subtype="PCM_16")

