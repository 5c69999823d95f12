"""The composition root: the one place that knows the whole shape of the appliance.

``build_pipeline(settings)`` makes the channels first (the events inbox every worker reports
into, each stage's inbox, the priority queue), then the stages in reading order, each given
just its inbox, its downstream and the events inbox:

    capture -> vad -> stt -> brain -> speak (TTS producer) -> priority queue -> playback

then the control plane (control worker, observers, MQTT, GPIO) and the supervisor. The
service, the demo and the tests all build through here; ``stages=LISTENING`` builds only the
input half, whose transcripts go to a sink of the caller's; ``build_text_brain`` builds the
brain alone, for ``appliance ask``, through the same ``build_brain``. The remote endpoints the
settings name (an LLM server, Wyoming STT and TTS servers) each get a circuit breaker here
(``Remotes``), handed to the stage that uses the endpoint and read by MQTT diagnostics and
``appliance doctor`` (``endpoint_checks``).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np

from appliance.audio.capture import CaptureWorker
from appliance.audio.echo import EchoCanceller, FarEnd, load_echo_canceller
from appliance.audio.playback import PlaybackWorker
from appliance.brain.learning import RouterLog
from appliance.brain.llm_server import ServerLlm
from appliance.brain.output import FillerSource, Prerendered
from appliance.brain.prepare import AnswerPreparer
from appliance.brain.router import Router
from appliance.brain.splitter import SentenceSplitter
from appliance.brain.templates import Templates
from appliance.brain.timers import TimerService
from appliance.brain.volume import Volume
from appliance.brain.worker import BrainWorker
from appliance.config import ConfigError, Settings, StyleSettings
from appliance.control import plane as control_plane
from appliance.control.barge_in import BargeInListener
from appliance.control.preferences import Preferences, PreferenceStore
from appliance.control.sink import PipelineCommands
from appliance.control.worker import events_inbox
from appliance.core.pcm import resample, to_int16
from appliance.core.remote import CircuitBreaker, Probe, read_status
from appliance.core.stop_phrases import StopPhrases
from appliance.listen.gate import ListenGate
from appliance.listen.stt.worker import SttWorker
from appliance.listen.vad import VadWorker
from appliance.listen.wakeword import WakeWordDetector
from appliance.pipeline.contracts import Interrupter, ModelResolver, Sink
from appliance.pipeline.events import Event
from appliance.pipeline.heap import HeapTrimmer, glibc_trim
from appliance.pipeline.inbox import Inbox
from appliance.pipeline.interruption import InterruptionService
from appliance.pipeline.messages import Priority, SpeakRequest, Utterance
from appliance.pipeline.priority import BridgeFn, PriorityQueue
from appliance.pipeline.supervisor import Supervisor
from appliance.pipeline.worker import Worker
from appliance.speak.fillers import FillerBank
from appliance.speak.producer import ProducerWorker
from appliance.speak.rendered import RenderedAudioCache
from appliance.speak.tts.factory import create_engine
from appliance.system.doctor import Check
from appliance.system.interp import gil_enabled
from appliance.system.modelstore import PACKAGED_WAKE_WORDS, ModelStore, wakeword_entry

log = logging.getLogger("appliance.app")

STAGES: tuple[str, ...] = ("capture", "vad", "stt", "brain", "speak", "playback")
LISTENING: tuple[str, ...] = STAGES[:3]
Prerender = Literal["all", "fillers", "none"]
PRERENDER_STOP_S = 3.0  # a stop waits this long for a synthesis in flight (native code)
PROBE_SPEECH = Path(__file__).parent / "data" / "speech_es" / "00.flac"  # "Hola, ¿qué hora es?"
W = TypeVar("W")


class Pipeline:
    """The built appliance: its workers in reading order, the supervisor, the channels and the
    control plane. A stage that was not built raises ``LookupError`` when asked for."""

    def __init__(self, settings: Settings, store: ModelStore, events: Inbox,
                 queue: PriorityQueue) -> None:
        self.settings = settings
        self.store = store
        self.events = events
        self.queue = queue
        self.stages: dict[str, Worker] = {}
        self.workers: list[Worker] = []
        self.supervisor = Supervisor([])
        self.plane: control_plane.ControlPlane | None = None
        self.heap = HeapTrimmer(glibc_trim())  # hands freed memory back after each reply
        self.gate = ListenGate(settings.listen)
        self._prerender: Prerender = "none"
        self._stop_prerender = threading.Event()
        self._prerender_job: Callable[[], None] | None = None
        self._prerender_thread: threading.Thread | None = None
        self.fillers_ready = threading.Event()  # the LLM path's first sound is cached
        self.prerendered = threading.Event()  # ... and every static answer too

    def _stage(self, name: str, kind: type[W]) -> W:
        worker = self.stages.get(name)
        if worker is None:
            raise LookupError(f"stage {name!r} was not built (stages: {', '.join(self.stages)})")
        assert isinstance(worker, kind)
        return worker

    @property
    def capture(self) -> CaptureWorker:
        return self._stage("capture", CaptureWorker)

    @property
    def vad(self) -> VadWorker:
        return self._stage("vad", VadWorker)

    @property
    def stt(self) -> SttWorker:
        return self._stage("stt", SttWorker)

    @property
    def brain(self) -> BrainWorker:
        return self._stage("brain", BrainWorker)

    @property
    def producer(self) -> ProducerWorker:
        return self._stage("speak", ProducerWorker)

    @property
    def playback(self) -> PlaybackWorker:
        return self._stage("playback", PlaybackWorker)

    @property
    def control(self) -> control_plane.ControlPlane:
        if self.plane is None:
            raise LookupError("the control plane was not built")
        return self.plane

    # --- lifecycle ----------------------------------------------------------------------

    def observe(self, observer: Callable[[Event], None]) -> None:
        """Call ``observer`` with every event from now on (on the observers' own thread)."""
        self.control.observers.add(observer)

    def start(self) -> None:
        self.supervisor.start()
        if self._prerender_job is None:
            self.fillers_ready.set()
            self.prerendered.set()
        else:
            self._prerender_thread = threading.Thread(target=self._prerender_job,
                                                      name="prerender", daemon=True)
            self._prerender_thread.start()

    def stop(self, timeout: float = 1.0, prerender_s: float = PRERENDER_STOP_S) -> bool:
        """True if every worker ended within ``timeout``; a synthesis the pre-rendering has in
        flight gets ``prerender_s`` more to finish."""
        self._stop_prerender.set()
        ok = self.supervisor.stop(timeout)
        if self._prerender_thread is not None:
            self._prerender_thread.join(prerender_s)
        return ok

    def state_text(self) -> str:
        return self.control.state.snapshot().state


def build_pipeline(
    settings: Settings,
    *,
    stages: Sequence[str] = STAGES,
    transcripts: Sink | None = None,
    store: ModelStore | None = None,
    max_frames: int | None = None,
    capture_backlog: int | None = None,
    pin_factory: Any = None,
    prerender: Prerender = "all",
) -> Pipeline:
    """The appliance from ``settings``.

    ``stages``: ``STAGES`` (the service) or ``LISTENING`` (capture -> VAD -> STT, whose
    final transcripts go to ``transcripts``). ``max_frames``: capture stops after this many
    periods (a file-backed run); ``capture_backlog``: how many periods the VAD's inbox holds
    (a file PCM delivers a whole file at once). ``prerender``: what to synthesize into the
    audio cache at start, in a background thread - the fillers (the LLM path's first sound),
    then every static answer."""
    if tuple(stages) not in (STAGES, LISTENING):
        raise ValueError(f"stages: build {STAGES} or {LISTENING}, got {tuple(stages)}")
    full = tuple(stages) == STAGES
    if not full and transcripts is None:
        raise ValueError("a listening-only pipeline needs a transcripts sink")
    s = settings
    s.state_path.mkdir(parents=True, exist_ok=True)
    store = store or ModelStore(s.cache_path)
    events = events_inbox()
    remotes = Remotes(s, s.state_path)

    # --- what is said: the engine, rendered audio and fillers (the queue bridges with them)
    style = s.tts.styles[s.tts.style]
    engine = create_engine(s, store, breaker=remotes.tts) if full else None
    rendered = RenderedAudioCache(engine, s.cache_path / "rendered",
                                  max_disk_mb=s.tts.rendered_cache_mb) if engine else None
    fillers = FillerBank(rendered, style, s.speak.filler_no_repeat) if rendered else None

    # --- the channels ----------------------------------------------------------------
    queue = PriorityQueue(
        s.speak.low_boost_s, max_bridge_s=s.speak.max_bridge_s,
        bridge=bridge_source(fillers, s.audio.playback_rate) if fillers else None)
    p = Pipeline(s, store, events, queue)
    # What was set at run time (mute, mode, wake word, sensitivity) comes back as it was.
    wake_words = available_wake_words(s, store)
    prefs = PreferenceStore(s.state_path).load(Preferences.from_settings(s.listen))
    if prefs.wake_word not in wake_words:
        prefs = dataclasses.replace(prefs, wake_word=s.listen.wake_word)
    p.gate.set_mode(prefs.mode)
    p.gate.set_muted(prefs.muted)
    vad_in = Inbox(capture_backlog or 256, drop_oldest=True)
    stt_in = Inbox(2048)  # Whisper holds the stage ~2 s per utterance: room for that audio
    brain_in = Inbox(64)
    speak_in = Inbox(256)
    timers = TimerService(s.state_path, events=events, max_ring_s=s.brain.timer_max_ring_s)
    interrupter = InterruptionService(p.queue, events, flush=[brain_in, speak_in],
                                      stop_alarms=timers.stop)

    # --- the stages, in reading order ------------------------------------------------
    # What the loudspeaker plays, for the echo canceller to take back out of the microphone.
    far_end = FarEnd(s.audio.sample_rate) if full and s.echo.enabled else None
    echo = _echo_canceller(s, far_end)
    p.stages["capture"] = CaptureWorker(s.audio, vad_in, events=events, max_frames=max_frames,
                                        echo=echo)
    p.stages["vad"] = VadWorker(s.vad, store.resolve(s.vad.model), stt_in, turn=s.turn,
                                turn_model=_turn_model(s, store), events=events, gate=p.gate,
                                wakeword=_wakeword(s, store, prefs),
                                load_wakeword=lambda word, sens: load_wakeword(store, word, sens),
                                sensitivity=prefs.sensitivity, inbox=vad_in)
    p.stages["stt"] = SttWorker(s.stt, brain_in if full else _given(transcripts), events=events,
                                turns=vad_in, store=store, breaker=remotes.stt,
                                stop_phrases=StopPhrases(s.listen.stop_phrases), inbox=stt_in)
    listeners: list[Callable[[Event], None]] = [p.gate.on_event]
    volume = Volume(s.state_path, events=events)
    if engine is not None and rendered is not None and fillers is not None:
        templates = Templates.load()
        # The prepared answers change every minute: cached on disk, in memory while recent.
        preparer = AnswerPreparer(templates,
                                  lambda text: rendered.render(text, style, pin=False))
        brain = build_brain(
            s, store, speak_in, timers=timers, volume=volume, interrupter=interrupter,
            remotes=remotes, events=events, inbox=brain_in, templates=templates,
            filler=filler_source(fillers), prerendered=prerendered_from_cache(rendered, style),
            preparer=preparer, learning=RouterLog(s.state_path),
            listen_mode=lambda: p.gate.mode,
        )
        p.stages["brain"] = brain
        listeners.append(brain.hear_playback)
        p.stages["speak"] = ProducerWorker.from_settings(engine, p.queue, s, events=events,
                                                         inbox=speak_in)
        playback = PlaybackWorker.from_settings(p.queue, s.audio, events=events,
                                                far_end=far_end if echo else None,
                                                duck_db=s.echo.duck_db)
        p.stages["playback"] = playback
        listeners.append(BargeInListener(playback.set_duck, interrupter).on_event)
        volume.attach(playback.set_gain)

        def job() -> None:
            _prerender(p, fillers, templates, rendered, style, preparer, prerender)

        p._prerender_job = None if prerender == "none" else job

    # --- the control plane and the supervisor ----------------------------------------
    splitter_chars = s.speak.first_sentence_max_chars
    commands = PipelineCommands(
        interrupter=interrupter, turns=p.gate, listen_input=vad_in, speech=speak_in,
        events=events, split=lambda text: split_sentences(text, splitter_chars),
        volume=volume, timers=timers, max_announcements=s.mqtt.max_announcements,
    )
    listeners.append(commands.on_event)
    p.plane = control_plane.build(
        s, commands, events=events, listeners=listeners, volume=volume.level, restored=prefs,
        wake_words=wake_words, pin_factory=pin_factory,
        diagnostics=lambda: {"gil_enabled": gil_enabled(), **remotes.diagnostics()})
    p.plane.observers.add(p.heap.on_event)  # off the audio and MQTT paths
    p.workers = [*p.stages.values(), *p.plane.workers]
    p.supervisor = Supervisor(p.workers, restart_backoff_s=s.service.restart_backoff_s,
                              heartbeat_timeout_s=s.service.heartbeat_timeout_s, events=events)
    timers.announce()  # timers restored from disk are shown at once
    return p


class Remotes:
    """The remote endpoints the settings name, each with its circuit breaker (None where the
    endpoint is not used): the LLM server, the Wyoming STT and TTS servers. ``state_dir``:
    where the breakers record their state for ``appliance doctor`` (None: not recorded)."""

    def __init__(self, s: Settings, state_dir: Path | None) -> None:
        b, st, tt = s.brain.llm_server, s.stt.wyoming, s.tts.wyoming

        def breaker(name: str, url: str, skip_after: int, skip_s: float) -> CircuitBreaker:
            return CircuitBreaker(name, url, skip_after=skip_after, skip_s=skip_s,
                                  state_dir=state_dir)

        self.llm = breaker("llm_server", b.url, b.skip_after_failures, b.skip_s) \
            if b.url else None
        self.stt = breaker("stt_wyoming", st.url, st.skip_after_failures, st.skip_s) \
            if s.stt.engine == "wyoming" else None
        self.tts = breaker("tts_wyoming", tt.url, tt.skip_after_failures, tt.skip_s) \
            if s.tts.engine == "wyoming" else None

    @property
    def breakers(self) -> list[CircuitBreaker]:
        return [b for b in (self.llm, self.stt, self.tts) if b is not None]

    def diagnostics(self) -> dict[str, Any]:
        """For MQTT diagnostics: each endpoint's circuit (closed = in use, open = skipped)."""
        if not self.breakers:
            return {}
        return {"remote": {b.name: b.status().to_dict() for b in self.breakers}}


def llm_server(s: Settings, breaker: CircuitBreaker | None) -> ServerLlm | None:
    """The chat-completions client, when ``brain.llm_server.url`` names a server."""
    if breaker is None:
        return None
    return ServerLlm(s.brain.llm_server, breaker, max_tokens=s.brain.llm_max_tokens)


def build_brain(
    s: Settings, store: ModelResolver, downstream: Sink, *, timers: TimerService,
    volume: Volume, interrupter: Interrupter, remotes: Remotes, events: Sink | None = None,
    inbox: Inbox | None = None, templates: Templates | None = None,
    filler: FillerSource | None = None, prerendered: Prerendered | None = None,
    preparer: AnswerPreparer | None = None, learning: RouterLog | None = None,
    listen_mode: Callable[[], str] | None = None,
) -> BrainWorker:
    """The brain as the service and ``appliance ask`` run it: the trained router (nightly
    retrains picked up), the Spanish templates, timers, volume and the configured LLM backend
    (the server first when one is configured, the local model behind it; loaded in
    ``setup``). The rest is what speech adds: fillers and pre-rendered audio."""
    return BrainWorker(
        s, router=Router.load(s.state_path, s.brain.router_threshold),
        templates=templates or Templates.load(), downstream=downstream,
        interrupter=interrupter, timers=timers, volume=volume, events=events, store=store,
        llm_server=llm_server(s, remotes.llm), filler=filler, prerendered=prerendered,
        preparer=preparer, learning=learning, listen_mode=listen_mode, inbox=inbox,
    )


def build_text_brain(s: Settings, downstream: Sink, *, state_dir: Path,
                     store: ModelResolver | None = None) -> BrainWorker:
    """The brain alone, answering text (``appliance ask``): what it says goes to
    ``downstream`` as ``SpeakRequest``s. What it keeps - timers, volume, the server's circuit
    - lives in ``state_dir`` (a console's own: it never touches the service's); the router
    and the LLM backend are the configured ones. Call ``setup()`` to load the model."""
    s.state_path.mkdir(parents=True, exist_ok=True)
    inbox = Inbox(64)
    timers = TimerService(state_dir, max_ring_s=s.brain.timer_max_ring_s)
    interrupter = InterruptionService(PriorityQueue(), inbox, flush=[inbox],
                                      stop_alarms=timers.stop)
    return build_brain(s, store or ModelStore(s.cache_path), downstream, timers=timers,
                       volume=Volume(state_dir), interrupter=interrupter,
                       remotes=Remotes(s, state_dir), inbox=inbox)


def endpoint_checks(s: Settings) -> list[Callable[[], Check]]:
    """``appliance doctor``'s checks of the remote endpoints the settings name: each is
    reached for real (reachable, model or voice there, first token / first audio latency),
    and what the running service last recorded about it (its circuit) is shown beside."""
    remotes = Remotes(s, None)  # the doctor's own probes do not move the service's circuits

    def check(name: str, breaker: CircuitBreaker, probe: Callable[[], Probe]) -> Check:
        try:
            got = probe()
        except ConfigError as exc:  # the API key's variable or file
            got = Probe(False, str(exc), "set the variable or make the file readable")
        recorded = read_status(s.state_path, breaker.name)
        seen = f"; the service: {recorded.describe()}" if recorded is not None else ""
        return Check(name, got.ok, got.detail + seen, got.fix, required=False)

    def llm_probe() -> Probe:
        server = llm_server(s, remotes.llm)
        assert server is not None
        return server.probe()

    def stt_probe() -> Probe:
        from appliance.audio.files import read_audio
        from appliance.listen.stt.wyoming import WyomingAsr

        return WyomingAsr(s.stt).probe(read_audio(PROBE_SPEECH))

    def tts_probe() -> Probe:
        from appliance.speak.tts.wyoming import WyomingSpeech

        return WyomingSpeech(s.tts.wyoming).probe()

    found = [("llm server", remotes.llm, llm_probe), ("stt server", remotes.stt, stt_probe),
             ("tts server", remotes.tts, tts_probe)]
    return [partial(check, name, breaker, probe) for name, breaker, probe in found
            if breaker is not None]


def _given(sink: Sink | None) -> Sink:
    assert sink is not None
    return sink


def _echo_canceller(s: Settings, far_end: FarEnd | None) -> EchoCanceller | None:
    """Software echo cancellation, or None: off, no loudspeaker, or unavailable (one clear
    log line; the input then closes while the appliance speaks)."""
    if far_end is None:
        if not s.echo.enabled:
            log.info("echo cancellation off (echo.enabled): the microphone closes while the "
                     "appliance speaks")
        return None
    return load_echo_canceller(far_end, s.audio.sample_rate, s.echo.stream_delay_ms)


def _turn_model(s: Settings, store: ModelStore) -> Path | None:
    """The end-of-turn model's file; None (and one clear log line) falls back to the fixed
    hangover."""
    if not s.turn.model:
        return None
    try:
        return store.resolve(s.turn.model)
    except Exception as exc:
        log.error("end of turn: model %r unavailable (%s); falling back to the fixed "
                  "%d ms hangover", s.turn.model, exc, s.vad.min_silence_ms)
        return None


def _wakeword(s: Settings, store: ModelStore, prefs: Preferences) -> WakeWordDetector | None:
    """Loaded whatever the mode, so MQTT can switch to wake_word at run time; a broken model
    only matters (and only fails the start) when wake_word is the mode."""
    try:
        return load_wakeword(store, prefs.wake_word, prefs.sensitivity)
    except Exception as exc:
        if prefs.mode == "wake_word":
            raise
        log.warning("wake word unavailable (%s); modes always/push_to_talk still work", exc)
        return None


def load_wakeword(store: ModelStore, word: str, sensitivity: float) -> WakeWordDetector:
    return WakeWordDetector(store.resolve(wakeword_entry(word, store.specs)), word, sensitivity)


def available_wake_words(s: Settings, store: ModelStore) -> tuple[str, ...]:
    """What Home Assistant may choose from: the packaged models and the configured word."""
    words = {s.listen.wake_word}
    try:
        words |= {p.stem for p in store.resolve(PACKAGED_WAKE_WORDS).glob("*.json")}
    except Exception as exc:  # no packaged models: only the configured one, if it loads
        log.warning("packaged wake words unavailable: %s", exc)
    return tuple(sorted(words))


def split_sentences(text: str, max_chars: int) -> list[str]:
    """An announcement in sentences, cut as the brain cuts its answers."""
    splitter = SentenceSplitter(max_chars)
    return [*splitter.feed(text), *splitter.flush()]


# --- the output half as the brain sees it: two lookups ------------------------------------


def filler_source(bank: FillerBank, category: str = "thinking") -> FillerSource:
    """The filler bank as the brain's filler source: pre-rendered audio, LOW priority."""

    def make(answer_id: int) -> SpeakRequest:
        f = bank.pick(category)
        return SpeakRequest(audio=f.audio, rate=f.sample_rate, text=f.text,
                            priority=Priority.LOW, kind="filler", answer=answer_id)

    return make


def bridge_source(bank: FillerBank, device_rate: int) -> BridgeFn:
    """Short fillers for the priority queue to bridge a late sentence with: only those
    already rendered, converted to the device's format once."""
    lock = threading.Lock()
    converted: dict[str, np.ndarray] = {}

    def make(answer: int) -> Utterance | None:
        f = bank.pick_ready("bridge")
        if f is None:
            return None
        with lock:
            audio = converted.get(f.text)
            if audio is None:
                audio = converted[f.text] = to_int16(resample(f.audio, f.sample_rate,
                                                              device_rate))
        return Utterance(audio, device_rate, Priority.LOW, answer=answer, text=f.text,
                         kind="bridge")

    return make


def prerendered_from_cache(cache: RenderedAudioCache, style: StyleSettings) -> Prerendered:
    """A rendered-audio cache lookup (never synthesizes: a miss is spoken as text instead)."""

    def lookup(text: str) -> tuple[np.ndarray, int] | None:
        audio = cache.get(text, style)
        return None if audio is None else (audio, cache.engine.sample_rate)

    return lookup


def prerender_static(templates: Templates, cache: RenderedAudioCache, style: StyleSettings,
                     stop: threading.Event | None = None, *, start: int = 0,
                     end: int | None = None) -> int:
    """Render static answers and openings ``start:end`` (in ``static_texts()`` order) into the
    cache (disk hits cost nothing); meant for a background thread at start. Returns how many
    texts it went through."""
    n = 0
    for text in templates.static_texts()[start:end]:
        if stop is not None and stop.is_set():
            break
        cache.render(text, style)
        n += 1
    return n


def _prerender(p: Pipeline, fillers: FillerBank, templates: Templates,
               rendered: RenderedAudioCache, style: StyleSettings, preparer: AnswerPreparer,
               what: Prerender) -> None:
    """Fillers first (the LLM path needs them soonest), then one static variant of every
    answer, the answers that can be known ahead (``prerendered`` is set then: every answer
    can start at once), the other static variants, and the predictable ones kept a minute
    ahead for as long as the service runs."""
    stop = p._stop_prerender
    try:
        fillers.prepare()
        p.fillers_ready.set()
        if what == "all":
            cover = templates.cases()
            n = prerender_static(templates, rendered, style, stop, end=cover)
            preparer.prepare(stop)
            p.prerendered.set()
            n += prerender_static(templates, rendered, style, stop, start=cover)
            log.info("pre-rendered the fillers, %d static answers and the predictable ones", n)
            preparer.run(stop)
    except Exception:
        # systemd's SIGTERM also reaches an espeak-ng child: a TTS killed at shutdown is
        # no failure.
        if not (p._stop_prerender.is_set() or p.supervisor.stopping):
            log.exception("pre-rendering failed; answers will be synthesized on demand")
    finally:
        p.fillers_ready.set()
        p.prerendered.set()
