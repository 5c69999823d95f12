"""Audio rendered once and kept: in memory, and on disk so a restart costs no synthesis.

Fillers and fixed template answers are short, fixed phrases spoken often; synthesizing them at
every start (or worse, every use) wastes the CPU the LLM needs. Entries are keyed by everything
that changes the sound - engine, voice, sample rate, style values, text - so a config change
never plays stale audio. Files are float32 .npy written atomically (temp file + rename).
The disk copy is bounded too: the time of every minute of a day alone is about half a GB, so
past ``max_disk_mb`` the least recently used clips not held in memory are deleted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import logging
import os
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
PRUNE_TO = 0.8  # of the disk bound: a prune frees room for a while, not for one clip


class RenderedAudioCache:
    """Thread-safe get-or-synthesize for one engine; ``root`` is e.g. <cache_dir>/rendered."""

    def __init__(self, engine: TtsEngine, root: Path, *, max_disk_mb: float | None = None
                 ) -> None:
        """``max_disk_mb``: the most the files under ``root`` may take (None: no bound)."""
        self.engine = engine
        self.root = Path(root)
        self.max_disk_bytes = None if max_disk_mb is None else int(max_disk_mb * 1024 * 1024)
        self._lock = threading.Lock()
        self._disk_lock = threading.Lock()  # the running total and pruning (file I/O)
        self._disk_bytes: int | None = None  # counted on the first store
        # Pinned: the fixed phrases (fillers, static answers), a known set, kept for good.
        # Everything else (the time this minute, today's date: a new text every minute,
        # prepared by brain/prepare.py) only while recently used, so weeks of uptime do not
        # keep every minute's audio in memory; the disk still has it.
        self._memory: dict[str, np.ndarray] = {}
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()
        self.recent_max = RECENT_MAX
        self.disk_hits = 0
        self.syntheses = 0
        self.pruned = 0  # files deleted to keep the disk bound

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
        with contextlib.suppress(OSError):  # a read-only disk: fine, only less fresh
            os.utime(path)  # recently used: the last to be pruned
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
            return
        if self.max_disk_bytes is not None:
            self._bound_disk(buf.getbuffer().nbytes)

    def _bound_disk(self, added: int) -> None:
        """Counts what was stored; past the bound, deletes the least recently used files
        (modification time; a disk hit touches it) whose audio is not held in memory."""
        assert self.max_disk_bytes is not None
        with self._disk_lock:
            if self._disk_bytes is not None:
                self._disk_bytes += added
                if self._disk_bytes <= self.max_disk_bytes:
                    return
            files = []
            for f in self.root.glob("*/*.npy"):
                try:
                    st = f.stat()
                except OSError:
                    continue  # gone meanwhile
                files.append((st.st_mtime, st.st_size, f))
            total = sum(size for _, size, _ in files)
            if total > self.max_disk_bytes:
                with self._lock:
                    held = set(self._memory) | set(self._recent)
                target = int(self.max_disk_bytes * PRUNE_TO)
                for _, size, f in sorted(files, key=lambda x: x[0]):
                    if total <= target:
                        break
                    if f.stem in held:
                        continue
                    try:
                        f.unlink()
                    except OSError as exc:
                        log.warning("cannot prune rendered audio %s: %s", f, exc)
                        continue
                    total -= size
                    self.pruned += 1
                log.info("rendered audio on disk pruned to %.0f MB (bound %.0f MB)",
                         total / 1048576, self.max_disk_bytes / 1048576)
            self._disk_bytes = total
