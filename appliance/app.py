"""Builds the pipeline from Settings: the workers, the inboxes that join them, the supervisor.

This is the only place that knows the whole shape; each worker knows just its inbox and the
inbox it feeds.
"""

from __future__ import annotations

import logging

from appliance.audio.capture import CaptureWorker
from appliance.config import Settings
from appliance.listen.stt.worker import SttWorker
from appliance.listen.vad import VadWorker
from appliance.pipeline.inbox import Inbox
from appliance.pipeline.supervisor import Supervisor
from appliance.pipeline.worker import Worker
from appliance.system.modelstore import ModelStore

log = logging.getLogger("appliance.app")


class Appliance:
    def __init__(
        self,
        settings: Settings,
        *,
        store: ModelStore | None = None,
        transcripts: Inbox | None = None,
        max_frames: int | None = None,
    ) -> None:
        self.settings = settings
        self.store = store or ModelStore(settings.cache_path)
        # Where final transcripts go: the brain's inbox once it exists, or a caller's.
        self.transcripts = transcripts if transcripts is not None else Inbox(64)
        self.stt = SttWorker(settings.stt, self.transcripts, store=self.store)
        self.vad = VadWorker(settings.vad, self.store.resolve(settings.vad.model), self.stt.inbox)
        self.capture = CaptureWorker(settings.audio, self.vad.inbox, max_frames=max_frames)
        self.workers: list[Worker] = [self.capture, self.vad, self.stt]
        self.supervisor = Supervisor(
            self.workers,
            restart_backoff_s=settings.service.restart_backoff_s,
            heartbeat_timeout_s=settings.service.heartbeat_timeout_s,
        )

    def start(self) -> None:
        self.settings.state_path.mkdir(parents=True, exist_ok=True)
        self.supervisor.start()

    def stop(self, timeout: float = 1.0) -> bool:
        return self.supervisor.stop(timeout)

    def state_text(self) -> str:
        """One line for systemd STATUS= and logs."""
        return "listening"
