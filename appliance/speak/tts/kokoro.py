"""Kokoro-82M (int8 ONNX) speaking Spanish from espeak-ng IPA.

The packaged model ships only Japanese speaker voices, but Kokoro's input is IPA, so Spanish
phonemes from espeak-ng give clear Spanish. One onnxruntime session per engine; `run` is
thread-safe, so several threads may synthesize at once.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import numpy as np

from appliance.config import StyleSettings
from appliance.speak.tts import phonemes
from appliance.speak.tts.base import TtsError

log = logging.getLogger(__name__)

SAMPLE_RATE = 24000
DEFAULT_VOICE = "jf_alpha"
MAX_TOKENS = 400  # the model's style table has 510 rows; stay well under it
_TRIM_THRESHOLD = 0.01
_TRIM_PAD = int(0.03 * SAMPLE_RATE)
_CHUNK_GAP = np.zeros(int(0.12 * SAMPLE_RATE), np.float32)  # pause where a long text was cut


class KokoroEngine:
    name = "kokoro"
    sample_rate = SAMPLE_RATE

    def __init__(
        self, model_dir: Path, voice: str = "", threads: int = 2, espeak_voice: str = "es"
    ) -> None:
        import onnxruntime as ort

        self.voice = voice or DEFAULT_VOICE
        self.espeak_voice = espeak_voice
        try:
            vocab = json.loads((model_dir / "vocab.json").read_text(encoding="utf-8"))["vocab"]
            with np.load(model_dir / "voices_ja.npz") as npz:
                voices = {k: np.asarray(npz[k], np.float32) for k in npz.files}
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
            # A memory pattern is planned and kept for every new set of input shapes, and
            # every sentence has its own length: malloc in use grew 6 MB per 100 sentences
            # with it, 0.02 MB without (issue 15; no measurable cost in synthesis time).
            opts.enable_mem_pattern = False
            self._session = ort.InferenceSession(
                str(model_dir / "model.onnx"), sess_options=opts,
                providers=["CPUExecutionProvider"],
            )
        except (OSError, KeyError, ValueError, RuntimeError) as exc:
            raise TtsError(f"kokoro model in {model_dir} is unusable: {exc}") from exc
        if self.voice not in voices:
            raise TtsError(
                f"kokoro voice {self.voice!r} not found; available: {', '.join(sorted(voices))}"
            )
        self._vocab: dict[str, int] = vocab
        self._styles = voices[self.voice].reshape(-1, 256)  # row n-1 = style for n tokens
        self._noted = threading.Event()
        # Every sentence has its own length, so every inference its own tensor sizes: ONNX
        # Runtime's CPU arena keeps the high-water mark of them all and, fragmented, extends
        # again even for sizes it has seen (and two threads synthesizing at once - a sentence
        # and the minute's prepared time - add up), so resident memory only ever went up
        # (issue 15: steps of +100 MB and a new 256 MB region in bench/soak.py). Shrinking
        # the arena after each run hands the extensions back and keeps its speed; disabling
        # the arena instead left ~1.7 GB freed but held by glibc's per-thread arenas.
        self._run_options = ort.RunOptions()
        self._run_options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")

    def synthesize(self, text: str, style: StyleSettings) -> np.ndarray:
        if not self._noted.is_set():
            self._noted.set()
            log.info("kokoro: only speed applies; noise_scale, noise_scale_w and sdp_ratio "
                     "are not Kokoro controls and are ignored")
        clauses = phonemes.to_ipa(text, self.espeak_voice)
        pieces = [self._infer(ids, style.speed) for ids in self._chunks(clauses)]
        pieces = [p for p in pieces if p.size]
        if not pieces:
            return np.zeros(0, np.float32)
        joined = [pieces[0]]
        for p in pieces[1:]:
            joined += [_CHUNK_GAP, p]
        return np.concatenate(joined)

    def _ids(self, ipa: str) -> list[int]:
        return [self._vocab[c] for c in ipa if c in self._vocab]

    def _chunks(self, clauses: list[phonemes.Clause]) -> list[list[int]]:
        """Token lists under MAX_TOKENS, cut at clause ends, then at word gaps if need be."""
        chunks: list[list[int]] = []
        cur: list[int] = []
        space = self._ids(" ")
        for clause in clauses:
            ids = self._ids(clause.ipa + clause.punct)
            for part in _split_long(ids, space, MAX_TOKENS):
                if cur and len(cur) + len(space) + len(part) > MAX_TOKENS:
                    chunks.append(cur)
                    cur = []
                cur = [*cur, *space, *part] if cur else list(part)
        if cur:
            chunks.append(cur)
        return chunks

    def _infer(self, ids: list[int], speed: float) -> np.ndarray:
        if not ids:
            return np.zeros(0, np.float32)
        ref = self._styles[min(len(ids), len(self._styles)) - 1].reshape(1, 256)
        try:
            out = self._session.run(None, {
                "tokens": np.array([[0, *ids, 0]], dtype=np.int64),
                "style": ref,
                "speed": np.array([speed], dtype=np.float32),
            }, self._run_options)[0]
        except Exception as exc:  # onnxruntime raises its own exception types
            raise TtsError(f"kokoro inference failed: {exc}") from exc
        return _trim(np.asarray(out, np.float32).ravel())


def _split_long(ids: list[int], space: list[int], limit: int) -> list[list[int]]:
    """A clause longer than the limit is cut at the last word gap before it."""
    out = []
    while len(ids) > limit:
        cut = max((i for i in range(1, limit) if ids[i : i + len(space)] == space), default=limit)
        out.append(ids[:cut])
        ids = ids[cut + (len(space) if cut < limit else 0) :]
    if ids:
        out.append(ids)
    return out


def _trim(audio: np.ndarray) -> np.ndarray:
    """Drop the model's leading/trailing near-silence, keeping a short pad."""
    loud = np.flatnonzero(np.abs(audio) > _TRIM_THRESHOLD)
    if loud.size == 0:
        return audio
    return audio[max(0, loud[0] - _TRIM_PAD) : loud[-1] + _TRIM_PAD]

