"""The scripted person's lines: Kokoro clips generated once and shipped (16 kHz FLAC).

Synthesizing them at demo time would cost more CPU than the whole conversation on a busy
2-core machine; ``python -m appliance.demo.voices`` re-creates them (then commit the files).
A male Kokoro voice, so the person and the appliance (a female voice) are easy to tell apart;
the lines said over its answers (stop phrases, other people talking) come from several voices.
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

# Over the appliance's answer: stop phrases and someone else talking, by several people (the
# other Kokoro voices and espeak-ng's; never the appliance's own, jf_alpha). key -> (text, voice)
STOPS: dict[str, tuple[str, str]] = {
    "stop-1": ("Para, por favor.", "jm_kumo"),
    "stop-2": ("¡Para, para!", "jf_gongitsune"),
    "stop-3": ("Basta ya.", "jf_nezumi"),
    "stop-4": ("Silencio, por favor.", "jf_tebukuro"),
    "stop-5": ("Para ya.", "jm_kumo"),
    "stop-6": ("¡Cállate!", "jf_nezumi"),
    "stop-7": ("Vale ya.", "jf_gongitsune"),
    "stop-8": ("Basta.", "jf_tebukuro"),
    "stop-9": ("Para, por favor.", "espeak:es+m3"),
    "stop-10": ("Silencio.", "espeak:es-419+f2"),
    "stop-11": ("Deja de hablar.", "jm_kumo"),
    "stop-12": ("Para, para.", "espeak:es+m1"),
}
WAKE: dict[str, tuple[str, str]] = {"wake": ("okay nabu", "espeak:es")}  # the wake word
TALK: dict[str, tuple[str, str]] = {
    "talk-1": ("Oye, ¿has visto mis llaves?", "jm_kumo"),
    "talk-2": ("Mañana vamos a comer a casa de la abuela.", "jf_gongitsune"),
    "talk-3": ("Pásame la sal, que está muy soso.", "jf_nezumi"),
    "talk-4": ("Qué bien huele eso que estás haciendo.", "jf_tebukuro"),
    "talk-5": ("No me acuerdo de dónde he aparcado el coche.", "espeak:es+m3"),
    "talk-6": ("Hay que comprar más tomates y cebollas.", "jm_kumo"),
    "talk-7": ("El partido empieza a las nueve y media.", "espeak:es-419+f2"),
    "talk-8": ("¿Has sacado ya al perro esta mañana?", "jf_nezumi"),
    "talk-9": ("Esta receta me la enseñó mi madre.", "jf_gongitsune"),
    "talk-10": ("Luego te llamo, que ahora estoy cocinando.", "jf_tebukuro"),
    "talk-11": ("Los niños salen del colegio a las cinco.", "espeak:es+m1"),
    "talk-12": ("Me encanta cómo ha quedado la cocina nueva.", "jm_kumo"),
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
    return {key: text for key, (text, _) in voiced().items()}


def voiced() -> dict[str, tuple[str, str]]:
    """Every clip with who says it."""
    out = {key: (text, USER_VOICE) for key, text in LINES.items()}
    for key, (first, second) in PAUSED.items():
        out[f"{key}-a"], out[f"{key}-b"] = (first, USER_VOICE), (second, USER_VOICE)
    return {**out, **STOPS, **WAKE, **TALK}


def generate(keys: list[str] | None = None) -> None:
    import soundfile as sf

    from appliance import config
    from appliance.demo.speech import espeak
    from appliance.speak.tts.kokoro import KokoroEngine
    from appliance.system.modelstore import ModelStore

    settings = config.load(None)
    model = ModelStore(settings.cache_path).resolve(settings.tts.kokoro_model)
    engines: dict[str, KokoroEngine] = {}
    style = settings.tts.styles["calm"]
    DATA.mkdir(parents=True, exist_ok=True)
    for key, (text, voice) in voiced().items():
        if keys and key not in keys:
            continue
        if voice.startswith("espeak:"):
            audio = espeak(text, voice=voice.removeprefix("espeak:"))
        else:
            engine = engines.get(voice) or engines.setdefault(voice, KokoroEngine(model,
                                                                                  voice=voice))
            audio = resample(engine.synthesize(text, style), engine.sample_rate, SPEECH_RATE)
        audio = trim(np.asarray(audio, np.float32))
        audio *= 0.5 / (float(np.abs(audio).max()) or 1.0)
        sf.write(DATA / f"{key}.flac", to_int16(audio), SPEECH_RATE, subtype="PCM_16")
        print(f"{key}.flac {len(audio) / SPEECH_RATE:.2f}s {voice}: {text}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=generate.__doc__)
    parser.add_argument("keys", nargs="*")
    generate(parser.parse_args().keys or None)
