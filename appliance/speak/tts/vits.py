"""Piper/VITS voices through sherpa-onnx `OfflineTts`, fed IPA from espeak-ng.

Piper exports (`voice.onnx` + `voice.onnx.json`) lack what sherpa-onnx reads: a tokens.txt and
vits metadata inside the ONNX file. Both are derived from the Piper JSON once, into the cache
(the metadata is appended as raw protobuf ModelProto.metadata_props entries, so no `onnx`
package is needed). sherpa-onnx 2.0.1 is given the phonemes directly (`phoneme_codepoints`):
our espeak-ng call, the voice named in the JSON.

noise_scale and noise_scale_w are fixed per OfflineTts instance, so one instance is kept per
distinct pair (styles share most pairs; a few are kept, least recently used dropped).
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from appliance.config import StyleSettings
from appliance.core import atomic
from appliance.speak.tts import phonemes
from appliance.speak.tts.base import TtsError

log = logging.getLogger(__name__)

MAX_INSTANCES = 3
_SENTENCE_END = (".", "!", "?", "…")


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def metadata_entries(meta: dict[str, str]) -> bytes:
    """ModelProto field 14 (metadata_props) entries; appended to a model they are merged in."""
    return b"".join(
        _field(14, _field(1, k.encode()) + _field(2, v.encode())) for k, v in meta.items()
    )


def find_piper_files(model_dir: Path) -> tuple[Path, Path]:
    onnx_files = sorted(model_dir.glob("*.onnx"))
    if not onnx_files:
        raise TtsError(f"no .onnx voice in {model_dir}")
    config = onnx_files[0].with_name(onnx_files[0].name + ".json")
    if not config.exists():
        raise TtsError(f"Piper voice config {config.name} missing beside {onnx_files[0]}")
    return onnx_files[0], config


def prepare_for_sherpa(model_dir: Path, cache_dir: Path) -> Path:
    """A dir with model.onnx (+metadata), tokens.txt and piper.json; rebuilt if the source
    changes. Written to a temp dir and renamed, so a crash never leaves half a model."""
    onnx_path, json_path = find_piper_files(model_dir)
    stamp = f"{onnx_path.stat().st_size}:{onnx_path.stat().st_mtime_ns}"
    target = cache_dir / f"{model_dir.name}-sherpa"
    marker = target / ".complete"
    if marker.exists() and marker.read_text() == stamp:
        return target
    try:
        cfg = json.loads(json_path.read_text(encoding="utf-8"))
        id_map: dict[str, list[int]] = cfg["phoneme_id_map"]
        meta = {
            "model_type": "vits",
            "comment": "piper",
            "language": str(cfg.get("language", {}).get("name_english", "unknown")),
            "voice": cfg["espeak"]["voice"],
            "has_espeak": "1",
            "n_speakers": str(cfg.get("num_speakers", 1)),
            "sample_rate": str(cfg["audio"]["sample_rate"]),
        }
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise TtsError(f"Piper voice config {json_path} is unusable: {exc}") from exc
    with atomic.staged_dir(target) as tmp:
        shutil.copyfile(onnx_path, tmp / "model.onnx")
        with (tmp / "model.onnx").open("ab") as fh:
            fh.write(metadata_entries(meta))
        lines = [f"{sym} {ids[0]}" for sym, ids in id_map.items() if ids]
        (tmp / "tokens.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        shutil.copyfile(json_path, tmp / "piper.json")
        (tmp / ".complete").write_text(stamp)
    log.info("vits: prepared %s for sherpa-onnx in %s", onnx_path.name, target)
    return target


class VitsEngine:
    name = "vits"

    def __init__(
        self, model_dir: Path, cache_dir: Path, threads: int = 2, speaker: int = 0,
        style: StyleSettings | None = None,
    ) -> None:
        self._dir = prepare_for_sherpa(model_dir, cache_dir)
        cfg = json.loads((self._dir / "piper.json").read_text(encoding="utf-8"))
        self.voice = f"{model_dir.name}#{speaker}"
        self.sample_rate = int(cfg["audio"]["sample_rate"])
        self.espeak_voice: str = cfg["espeak"]["voice"]
        self._known = {sym for sym, ids in cfg["phoneme_id_map"].items() if ids}
        self._threads = threads
        self._speaker = speaker
        self._lock = threading.Lock()
        self._generate_lock = threading.Lock()  # one synthesis at a time per engine
        self._instances: OrderedDict[tuple[float, float], object] = OrderedDict()
        self._noted = threading.Event()
        first = style or StyleSettings()
        # Load now, for the style in use: a broken model fails at start, not mid-answer.
        self._tts(first.noise_scale, first.noise_scale_w)

    def _tts(self, noise_scale: float, noise_scale_w: float) -> Any:  # sherpa_onnx.OfflineTts
        import sherpa_onnx

        key = (round(noise_scale, 3), round(noise_scale_w, 3))
        with self._lock:
            if key in self._instances:
                self._instances.move_to_end(key)
                return self._instances[key]
        config = sherpa_onnx.OfflineTtsConfig(
            model=sherpa_onnx.OfflineTtsModelConfig(
                vits=sherpa_onnx.OfflineTtsVitsModelConfig(
                    model=str(self._dir / "model.onnx"), lexicon="",
                    tokens=str(self._dir / "tokens.txt"), data_dir="",
                    noise_scale=key[0], noise_scale_w=key[1],
                ),
                num_threads=self._threads,
            ),
            max_num_sentences=1,
        )
        if not config.validate():
            raise TtsError(f"sherpa-onnx rejected the VITS config for {self._dir}")
        tts = sherpa_onnx.OfflineTts(config)
        with self._lock:
            tts = self._instances.setdefault(key, tts)
            while len(self._instances) > MAX_INSTANCES:
                self._instances.popitem(last=False)
        return tts

    def synthesize(self, text: str, style: StyleSettings) -> np.ndarray:
        import sherpa_onnx

        if not self._noted.is_set():
            self._noted.set()
            log.info("vits: speed, noise_scale and noise_scale_w apply; sdp_ratio does not "
                     "(Piper/VITS has no stochastic duration mix) and is ignored")
        sentences = self._sentences(phonemes.to_ipa(text, self.espeak_voice))
        if not sentences:
            return np.zeros(0, np.float32)
        gen = sherpa_onnx.GenerationConfig()
        gen.sid = self._speaker
        gen.speed = style.speed  # sherpa-onnx uses length_scale = 1 / speed
        gen.phoneme_codepoints = [[ord(c) for c in s] for s in sentences]
        tts = self._tts(style.noise_scale, style.noise_scale_w)
        with self._generate_lock:
            audio = tts.generate(text, gen)
        if audio.sample_rate != self.sample_rate:
            raise TtsError(f"vits: model gave {audio.sample_rate} Hz, expected {self.sample_rate}")
        return np.asarray(audio.samples, dtype=np.float32)

    def _sentences(self, clauses: list[phonemes.Clause]) -> list[str]:
        """Clauses grouped into sentences, keeping only symbols the voice knows."""
        out: list[str] = []
        cur = ""
        for c in clauses:
            cur = f"{cur} {c.ipa}{c.punct}".strip()
            if c.punct in _SENTENCE_END:
                out.append(cur)
                cur = ""
        if cur:
            out.append(cur)
        cleaned = ["".join(ch for ch in s if ch in self._known).strip() for s in out]
        return [s for s in cleaned if s]
