"""The scripted person's lines: Kokoro clips generated once and shipped (16 kHz FLAC).

Synthesizing them at demo time would cost more CPU than the whole conversation on a busy
2-core machine; ``python -m appliance.demo.voices`` re-creates them (then commit the files).
A male Kokoro voice, so the person and the appliance (a female voice) are easy to tell apart.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from appliance.core.pcm import SPEECH_RATE, resample, to_int16
from appliance.demo.speech import trim

DATA = Path(__file__).resolve().parent.parent / "data" / "conversation_es"
USER_VOICE = "jm_kumo"

LINES: dict[str, str] = {
    "time": "¿Me dices la hora, por favor?",
    "timer": "Pon un temporizador de veinte minutos para la pasta.",
    "bread": "¿Por qué sube el pan en el horno?",
    "paella": "Explícame paso a paso cómo se hace una paella.",
    "tortilla": "Cuéntame la historia de la tortilla de patatas.",
    "capital": "¿Cuál es la capital de Francia?",
    "people": "¿Y cuántos habitantes tiene?",
    "cancel": "Cancela el temporizador de la pasta.",
    "stop": "Para, por favor.",
}

# Sentences a person breaks off to search for a word ("pon un temporizador de... quince
# minutos"): each half is its own clip (the first one said as trailing off), and a script
# puts the pause between them. Key -> (first half, second half).
PAUSED: dict[str, tuple[str, str]] = {
    "pause-timer": ("Pon un temporizador de...", "quince minutos."),
    "pause-light": ("Apaga la luz de la...", "cocina."),
    "pause-capital": ("¿Cuál es la capital de...", "Portugal?"),
    "pause-shopping": ("Necesito comprar leche y...", "pan."),
    "pause-cancel": ("Cancela el temporizador de la...", "pasta."),
    "pause-alarm": ("Pon una alarma para las...", "siete y media."),
    "pause-cook": ("¿Qué puedo cocinar con...", "calabacín?"),
    "pause-remind": ("Recuérdame que tengo que...", "sacar el pan del horno."),
    "pause-flour": ("¿Cuántos gramos de harina caben en una...", "taza?"),
    "pause-rice": ("Pon un temporizador de veinte minutos para el...", "arroz."),
    "pause-query": ("¿Cuánto le queda al temporizador de la...", "pizza?"),
    "pause-tortilla": ("Explícame cómo se hace una tortilla de...", "patatas."),
    "pause-oven": ("¿A cuántos grados pongo el horno para el...", "bizcocho?"),
}


def clip(key: str) -> np.ndarray:
    """float32 16 kHz mono audio of one line."""
    import soundfile as sf

    path = DATA / f"{key}.flac"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run python -m appliance.demo.voices")
    audio, rate = sf.read(path, dtype="float32")
    if rate != SPEECH_RATE:
        raise ValueError(f"{path}: expected {SPEECH_RATE} Hz, got {rate}")
    return audio


def texts() -> dict[str, str]:
    """Every clip: the whole lines, and each half of the paused ones (KEY-a, KEY-b)."""
    out = dict(LINES)
    for key, (first, second) in PAUSED.items():
        out[f"{key}-a"], out[f"{key}-b"] = first, second
    return out


def generate(keys: list[str] | None = None) -> None:
    import soundfile as sf

    from appliance import config
    from appliance.speak.tts.kokoro import KokoroEngine
    from appliance.system.modelstore import ModelStore

    settings = config.load(None)
    engine = KokoroEngine(ModelStore(settings.cache_path).resolve(settings.tts.kokoro_model),
                          voice=USER_VOICE)
    style = settings.tts.styles["calm"]
    DATA.mkdir(parents=True, exist_ok=True)
    for key, text in texts().items():
        if keys and key not in keys:
            continue
        audio = resample(engine.synthesize(text, style), engine.sample_rate, SPEECH_RATE)
        audio = trim(np.asarray(audio, np.float32))
        audio *= 0.5 / (float(np.abs(audio).max()) or 1.0)
        sf.write(DATA / f"{key}.flac", to_int16(audio), SPEECH_RATE, subtype="PCM_16")
        print(f"{key}.flac {len(audio) / SPEECH_RATE:.2f}s {text}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=generate.__doc__)
    parser.add_argument("keys", nargs="*")
    generate(parser.parse_args().keys or None)
