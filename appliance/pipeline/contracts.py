"""The few interfaces stages are handed by the composition root instead of each other.

Every worker has the same output contract: a downstream ``Sink`` for its data and an events
``Sink`` for what happened. Collaborators from other layers (the model store, the systemd
notifier, the interruption service) arrive as these Protocols, so no stage imports another
stage, the control plane or the system tools.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol


class Sink(Protocol):
    """Where a worker puts what it produces: an ``Inbox`` (or anything that queues)."""

    def put(self, msg: Any, timeout: float | None = None) -> None: ...


class ModelResolver(Protocol):
    """Model names (manifest entries) to ready paths on disk: ``ModelStore``."""

    @property
    def specs(self) -> Mapping[str, Any]: ...

    def resolve(self, name: str) -> Path: ...


class Interrupter(Protocol):
    """The one way to silence the appliance (``InterruptionService``)."""

    def interrupt(self, reason: str, *, keep_answer: int = 0) -> None: ...


class Notifier(Protocol):
    """The service manager's notification socket (systemd's sd_notify)."""

    @property
    def watchdog_interval_s(self) -> float: ...

    def ready(self, status: str = "") -> None: ...

    def status(self, text: str) -> None: ...

    def watchdog_ping(self) -> None: ...


class Refusal(ValueError):
    """A request the pipeline will not carry out, with a machine-readable ``code`` (published
    as is on MQTT's error topic, and what the spoken reply is chosen by)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
