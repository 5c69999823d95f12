"""A small JSON state file (timers, volume, preferences) that never takes its owner down.

Loading validates: a file in the wrong shape (not JSON, not UTF-8, ``[]`` where an object
belongs, an infinite volume, a deadline that is a string) is moved aside as ``.bad`` with one
log line, and the owner starts from its defaults; otherwise one bad file would stop the
service on every restart.

Saving never raises. When the storage refuses (full, read-only, gone) the newest document
stays pending in memory, the owner can tell (``saved`` is False) and a ``StorageError`` is
reported once; ``flush()``, called from the owner's own clock, retries every few seconds and
writes it as soon as the storage takes it again (``StorageRecovered``). So nothing that lives
in memory is lost or rolled back because the disk said no.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from appliance.core import atomic
from appliance.pipeline.contracts import Sink
from appliance.pipeline.events import StorageError, StorageRecovered

log = logging.getLogger("appliance.state")

T = TypeVar("T")

RETRY_S = 5.0

# What a parser raises for a document in the wrong shape.
BAD_SHAPE = (ValueError, TypeError, KeyError, OverflowError, AttributeError)


class StateFile:
    """Thread-safe. ``what`` names the state in logs and events ("timers", "volume")."""

    def __init__(
        self, path: Path, what: str, *, events: Sink | None = None, retry_s: float = RETRY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.what = what
        self.events = events
        self.retry_s = retry_s
        self.clock = clock
        self._lock = threading.Lock()
        self._pending: Any = None  # the newest document not yet on disk (documents are never None)
        self._failing = False  # a StorageError was reported and no write has worked since
        self._next_try = 0.0

    # --- loading ------------------------------------------------------------------------

    def load(self, parse: Callable[[Any], T]) -> T | None:
        """``parse(document)`` of the file, or None when there is none or it is unusable."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:  # unreadable now (I/O error): keep the file, start from defaults
            log.error("%s: cannot read %s (%s); starting from the defaults", self.what,
                      self.path, exc)
            return None
        try:
            return parse(json.loads(raw.decode("utf-8")))
        except (UnicodeDecodeError, *BAD_SHAPE) as exc:
            bad = self.path.with_name(self.path.name + ".bad")
            log.error("%s: %s is not valid (%s); moved aside as %s, starting from the defaults",
                      self.what, self.path, exc, bad.name)
            with contextlib.suppress(OSError):
                os.replace(self.path, bad)
            return None

    # --- saving -------------------------------------------------------------------------

    @property
    def saved(self) -> bool:
        """Whether the newest document is on disk."""
        with self._lock:
            return self._pending is None

    def save(self, doc: Any) -> bool:
        """Write ``doc`` now; False (kept pending, retried by ``flush``) if the storage refused."""
        with self._lock:
            self._pending = doc
            return self._write_locked()

    def flush(self) -> bool:
        """Retry a pending write if its time has come; True when nothing is pending."""
        with self._lock:
            if self._pending is None:
                return True
            if self.clock() < self._next_try:
                return False
            return self._write_locked()

    def _write_locked(self) -> bool:
        try:
            atomic.write_json(self.path, self._pending)
        except OSError as exc:
            self._next_try = self.clock() + self.retry_s
            if not self._failing:
                self._failing = True
                log.error("%s: cannot save %s (%s); kept in memory, retrying every %.0f s",
                          self.what, self.path, exc.strerror or exc, self.retry_s)
                self._report(StorageError(what=self.what, path=str(self.path),
                                          message=exc.strerror or str(exc)))
            return False
        self._pending = None
        if self._failing:
            self._failing = False
            log.warning("%s: saved %s again", self.what, self.path)
            self._report(StorageRecovered(what=self.what))
        return True

    def _report(self, event: StorageError | StorageRecovered) -> None:
        if self.events is not None:
            self.events.put(event)
