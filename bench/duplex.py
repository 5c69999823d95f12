"""Full duplex, measured through the main job: talking over the appliance while the
microphone hears the appliance itself.

    .venv/bin/python bench/duplex.py [--minutes 10] [--gain-db 6] [--out DIR] [--quick]

Builds one scripted conversation (``appliance demo``'s runner: FIFO-backed ALSA devices, the
simulated room feeding the loudspeaker back into the microphone at ``--gain-db``, Whisper,
Kokoro, the configured LLM), in wake-word mode so its own voice could wake it:

- every stop-phrase clip (several voices) said over a long announcement;
- every background-talk clip said over another one (someone else in the kitchen);
- the wake word and a request over an announcement;
- announcements, long LLM answers and a ringing alarm with nobody talking, until at least
  ``--minutes`` of its own speech have played.

Then, with the pipeline idle, the CPU of the whole appliance with echo cancellation on and
off, and AEC3's own cost per second of audio. Prints and writes (``duplex.json``) the
figures the full-duplex issue asks for: ERLE median, false barge-ins, self wake words and
transcripts of its own speech, stop rate, duck and stop latencies, background talk left
playing, CPU. ``--quick`` runs two clips of each kind and no long stretch (a smoke run).
Figures only; nothing is asserted. Run it on a quiet machine: the load is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from appliance import config  # noqa: E402
from appliance.demo import voices  # noqa: E402
from appliance.demo.run import run_script  # noqa: E402
from appliance.demo.script import load_script  # noqa: E402

ANNOUNCEMENTS = [
    "Aviso de la cocina. El horno ha llegado a doscientos grados y ya puedes meter el "
    "bizcocho. Recuerda que la bandeja de abajo está todavía caliente. Después de veinte "
    "minutos conviene mirar si se ha dorado por arriba. Si se dora demasiado pronto, cúbrelo "
    "con papel de aluminio y deja que termine de hacerse por dentro.",
    "Aviso de la cocina. La lavadora ha terminado su programa largo. Hay ropa de color y dos "
    "toallas grandes. Conviene tenderla pronto para que no coja olor. Mañana por la mañana "
    "hará sol en el patio, así que puedes dejar las sábanas para entonces.",
    "Aviso de la cocina. Son las siete de la tarde y toca preparar la cena. En la nevera hay "
    "verduras para una crema, y en la despensa queda arroz. Si prefieres pescado, la merluza "
    "está en el congelador y tarda unas dos horas en descongelarse.",
    "Aviso de la cocina. La lista de la compra tiene ocho cosas: leche, huevos, tomates, "
    "cebollas, aceite de oliva, pan, café y detergente. El mercado cierra a las dos, y el "
    "supermercado de la esquina a las nueve y media de la noche.",
    "Aviso de la cocina. El lavavajillas está lleno y listo para ponerlo. Hoy conviene el "
    "programa corto, porque solo hay platos y vasos. Las sartenes y la olla grande es mejor "
    "fregarlas a mano para que no se estropeen.",
    "Aviso de la cocina. Mañana viene la familia a comer. Son seis personas, y una de ellas "
    "no toma gluten. La paella lleva unos cuarenta minutos, y el postre puede hacerse esta "
    "noche para que esté bien frío al mediodía.",
]
QUESTIONS = ["paella", "tortilla", "bread"]  # long LLM answers (clips in conversation_es)


def build_script(directory: Path, *, minutes: float, gain_db: float, quick: bool) -> Path:
    """The benchmark's conversation as a demo script (clips by absolute path)."""
    def clip(key: str) -> str:
        return str(voices.DATA / f"{key}.flac")

    stops = sorted(voices.STOPS, key=lambda k: int(k.split("-")[1]))[: 2 if quick else None]
    talks = sorted(voices.TALK, key=lambda k: int(k.split("-")[1]))[: 2 if quick else None]
    turns: list[dict] = []
    for i, key in enumerate(stops):
        turns.append({"scenario": f"stop {key}: {voices.STOPS[key][0]} "
                                  f"({voices.STOPS[key][1]})",
                      "announce": ANNOUNCEMENTS[i % len(ANNOUNCEMENTS)],
                      "interrupt": {"kind": "voice", "audio": clip(key),
                                    "at_s": 1.5 + 0.5 * (i % 4)}})
    for i, key in enumerate(talks):
        turns.append({"scenario": f"background {key}: {voices.TALK[key][0]}",
                      "announce": ANNOUNCEMENTS[(i + 3) % len(ANNOUNCEMENTS)],
                      "background": {"audio": clip(key), "at_s": 1.5}})
    turns.append({"scenario": "wake word over an announcement, then a request",
                  "announce": ANNOUNCEMENTS[0],
                  "interrupt": {"kind": "voice", "audio": [clip("wake"), 0.4, clip("time")],
                                "at_s": 2.0}})
    if not quick:
        turns.append({"scenario": "an alarm rings out", "timer": {"seconds": 3, "ring_s": 30}})
        # Own speech with nobody talking: long answers (woken first) and announcements, about
        # 20 s each, until the run has at least ``minutes`` of it.
        spoken_s = 15 * len(talks) + 5 * len(stops) + 30
        i = 0
        while spoken_s < minutes * 60 + 60:
            if i % 4 == 3:
                q = QUESTIONS[(i // 4) % len(QUESTIONS)]
                turns.append({"scenario": f"long answer ({q})", "audio": [clip("wake"), 0.4,
                                                                          clip(q)]})
            else:
                turns.append({"scenario": "announcement", "announce":
                              ANNOUNCEMENTS[i % len(ANNOUNCEMENTS)]})
            spoken_s += 20
            i += 1
    path = directory / "duplex-bench.yaml"
    path.write_text(json.dumps({"name": "Full duplex bench", "mode": "wake_word",
                                "echo": {"delay_ms": 40, "gain_db": gain_db},
                                "turns": turns}, ensure_ascii=False), encoding="utf-8")
    return path


def idle_cpu(settings: config.Settings, seconds: float, echo: bool) -> float:
    """Share of one core the whole appliance uses doing nothing (FIFO devices, silence in)."""
    from appliance.app import build_pipeline
    from appliance.demo.fifo_devices import Ear, Mouth, alsa_config
    from appliance.demo.run import MIC, SPEAKER

    with tempfile.TemporaryDirectory() as tmp:
        alsa, mic, spk = alsa_config(Path(tmp), MIC, SPEAKER)
        os.environ["ALSA_CONFIG_PATH"] = alsa
        s = config.replace(settings, audio={"capture_device": MIC, "playback_device": SPEAKER},
                           device={"state_dir": str(Path(tmp) / "state")},
                           echo={"enabled": echo})
        mouth, ear = Mouth(mic, 16000, s.audio.period_ms), Ear(spk, s.audio.playback_rate)
        app = build_pipeline(s, prerender="none")
        mouth.start()
        ear.start()
        app.start()
        try:
            app.supervisor.wait_ready(300)
            time.sleep(s.audio.playback_idle_close_s + 5)  # the loudspeaker closes when idle
            mouth_cpu0 = cpu_now()
            t0 = time.monotonic()
            time.sleep(seconds)
            return (cpu_now() - mouth_cpu0) / (time.monotonic() - t0)
        finally:
            app.stop(2.0)
            mouth.stop()
            ear.stop()


def cpu_now() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def aec_cost(seconds: float = 60.0) -> float:
    """AEC3's own CPU per second of audio (16 kHz, 20 ms periods, a far end playing)."""
    from appliance.audio.echo import EchoCanceller, FarEnd

    rng = np.random.default_rng(0)
    far = (rng.standard_normal(int(16000 * seconds)) * 3000).astype(np.int16)
    near = (far * 0.5).astype(np.int16)
    ec = EchoCanceller(FarEnd(16000), 16000)
    t0 = time.process_time()
    for i in range(0, len(far) - 320 + 1, 320):
        ec.cancel(near[i:i + 320], far[i:i + 320], True)
    return (time.process_time() - t0) / seconds


def figures(report: dict) -> dict:
    turns = report["turns"]
    stops = [t for t in turns if str(t.get("scenario", "")).startswith("stop ")]
    talks = [t for t in turns if str(t.get("scenario", "")).startswith("background ")]
    wake = [t for t in turns if str(t.get("scenario", "")).startswith("wake word")]

    def dist(values: list[float]) -> dict | None:
        if not values:
            return None
        v = sorted(values)
        return {"n": len(v), "p50": statistics.median(v), "max": v[-1]}

    echo = report.get("echo") or {}
    return {
        "own_speech_s": report.get("own_speech_s"),
        "echo_levels_dbfs": echo.get("levels_dbfs"),
        "erle_db_median": echo.get("erle_db_median"),
        "erle_windows_s": report["workers"]["capture"].get("erle_windows"),
        "false_barge_ins": report.get("false_barge_ins"),
        "false_ducks": report.get("false_ducks"),
        "false_stops": report.get("false_stops"),
        "self_wake_words": report.get("self_wake_words"),
        "own_speech_transcripts": report.get("own_speech_transcripts"),
        "stops": f"{sum(bool(t.get('stopped')) for t in stops)}/{len(stops)}",
        "stop_rate": (sum(bool(t.get("stopped")) for t in stops) / len(stops)) if stops else None,
        "stopped_by": {t.get("over_label"): t.get("stopped") for t in stops},
        "duck_ms": dist([t["duck_ms"] for t in stops + talks if "duck_ms" in t]),
        "stop_phrase_end_to_silent_ms": dist([t["interrupt_to_silent_ms"] for t in stops
                                              if "interrupt_to_silent_ms" in t]),
        "background_left_playing": (f"{sum(not t.get('stopped') for t in talks)}/{len(talks)}"),
        "background_rate": (sum(not t.get("stopped") for t in talks) / len(talks)
                            if talks else None),
        "wake_word_over_speech_stopped": [t.get("stopped") for t in wake],
        "heard_after_wake_word": [t.get("heard") for t in wake],
        "cpu_cores_during_run": report.get("cpu_cores"),
        "errors": [t.get("error") for t in turns if "error" in t],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--gain-db", type=float, default=6.0)
    ap.add_argument("--idle-s", type=float, default=30.0)
    ap.add_argument("--config", default=None)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    settings = config.replace(config.load(args.config), echo={"enabled": True})
    out = args.out or Path(tempfile.mkdtemp(prefix="duplex-bench-"))
    out.mkdir(parents=True, exist_ok=True)
    load0 = os.getloadavg()
    script = load_script(build_script(out, minutes=args.minutes, gain_db=args.gain_db,
                                      quick=args.quick))
    print(f"duplex bench: {len(script.turns)} turns; load average {load0[0]:.2f} on "
          f"{os.cpu_count()} CPUs; report in {out}", flush=True)
    with open(out / "demo.log", "w") as log:
        run_script(settings, script, out, out=log)
    report = json.loads((out / "report.json").read_text())
    result = {"load_average_before": load0, "load_average_after": os.getloadavg(),
              **figures(report)}
    result["aec3_cpu_per_audio_s"] = round(aec_cost(), 4)
    if not args.quick:
        result["idle_cpu_echo_on"] = round(idle_cpu(settings, args.idle_s, True), 4)
        result["idle_cpu_echo_off"] = round(idle_cpu(settings, args.idle_s, False), 4)
    (out / "duplex.json").write_text(json.dumps(result, ensure_ascii=False, indent=1,
                                                default=str))
    for key, value in result.items():
        print(f"{key:<32} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
