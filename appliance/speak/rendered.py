"""Audio rendered once and kept: in memory, and on disk so a restart costs no synthesis.

Fillers and fixed template answers are short, fixed phrases spoken often; synthesizing them at
every start (or worse, every use) wastes the CPU the LLM needs. Entries are keyed by everything
that changes the sound - engine, voice, sample rate, style values, text - so a config change
never plays stale audio. Files are float32 .npy written atomically (temp file + rename).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from appliance.config import StyleSettings
from appliance.core import atomic
from appliance.speak.tts.base import StandIn, TtsEngine

log = logging.getLogger(__name__)

# Unpinned entries kept in memory: the predictable answers prepared ahead (the time now and
# next minute, today's date, the common timers' confirmations) fit with room to spare.
RECENT_MAX = 64


class RenderedAudioCache:
    """Thread-safe get-or-synthesize for one engine; ``root`` is e.g. <cache_dir>/rendered."""

    def __init__(self, engine: TtsEngine, root: Path) -> None:
        self.engine = engine
        self.root = Path(root)
        self._lock = threading.Lock()
        # Pinned: the fixed phrases (fillers, static answers), a known set, kept for good.
        # Everything else (the time this minute, today's date: a new text every minute,
        # prepared by brain/prepare.py) only while recently used, so weeks of uptime do not
        # keep every minute's audio in memory; the disk still has it.
        self._memory: dict[str, np.ndarray] = {}
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()
        self.recent_max = RECENT_MAX
        self.disk_hits = 0
        self.syntheses = 0

    def key(self, text: str, style: StyleSettings) -> str:
        ident = {
            "engine": self.engine.name,
            "voice": getattr(self.engine, "voice", ""),
            "rate": self.engine.sample_rate,
            "style": dataclasses.asdict(style),
            "text": text,
        }
        return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:32]

    def path_for(self, key: str) -> Path:
        return self.root / self.engine.name / f"{key}.npy"

    def get(self, text: str, style: StyleSettings, *, pin: bool = False) -> np.ndarray | None:
        """Cached audio (memory, then disk) at ``engine.sample_rate``, or None. ``pin``: keep
        it in memory for good (a fixed phrase), not only while recently used."""
        key = self.key(text, style)
        with self._lock:
            audio = self._memory.get(key)
            if audio is None:
                audio = self._recent.get(key)
                if audio is not None:
                    self._keep(key, audio, pin)
        if audio is not None:
            return audio
        path = self.path_for(key)
        try:
            audio = np.load(path, allow_pickle=False)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("rendered audio %s unreadable (%s); rendering again", path, exc)
            return None
        audio = np.asarray(audio, dtype=np.float32)
        audio.setflags(write=False)
        with self._lock:
            self.disk_hits += 1
            self._keep(key, audio, pin)
        return audio

    def render(self, text: str, style: StyleSettings, *, pin: bool = True) -> np.ndarray:
        """Cached audio, synthesizing and storing it on a miss (synthesis runs unlocked).
        ``pin=False`` for a text that changes (the time): in memory only while recent."""
        audio = self.get(text, style, pin=pin)
        if audio is not None:
            return audio
        audio = np.asarray(self.engine.synthesize(text, style), dtype=np.float32)
        audio.setflags(write=False)
        if isinstance(self.engine, StandIn) and self.engine.stood_in():
            return audio  # the fallback's voice: said now, not kept as the server's
        key = self.key(text, style)
        with self._lock:
            self.syntheses += 1
            self._keep(key, audio, pin)
        self._store(self.path_for(key), audio)
        return audio

    def in_memory(self) -> tuple[int, int]:
        """(pinned, recent) entries held in memory."""
        with self._lock:
            return len(self._memory), len(self._recent)

    def _keep(self, key: str, audio: np.ndarray, pin: bool) -> None:
        """Under the lock: pinned for good, or the most recent of the unpinned."""
        if pin:
            self._memory[key] = audio
            self._recent.pop(key, None)
        elif key not in self._memory:
            self._recent[key] = audio
            self._recent.move_to_end(key)
            while len(self._recent) > self.recent_max:
                self._recent.popitem(last=False)

    def _store(self, path: Path, audio: np.ndarray) -> None:
        """Best effort: a read-only or full disk costs a re-render next start, nothing more."""
        buf = io.BytesIO()
        np.save(buf, audio, allow_pickle=False)
        try:
            atomic.write_bytes(path, buf.getvalue(), durable=False)
        except OSError as exc:
            log.warning("cannot store rendered audio in %s: %s", path.parent, exc)
