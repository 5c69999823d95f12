"""The LLM on a home server, end to end through the brain worker under the real supervisor.

The OpenAI backend talks to llama-cpp-python's own OpenAI-compatible server (started once per
module on a loopback port, serving the packaged Gemma, with an API key); the faults it cannot
produce (HTTP 500, a server that accepts and never answers, malformed event-stream lines) come
from a tiny server of ours (tests/support/llm_server.py: a boundary we do not own). Every
failure gives one clear log line and a fallback answer - the packaged Gemma in this process,
or the spoken apology - and the brain keeps answering. The brain is built by the composition
root's ``build_text_brain``; its model is what ``setup()`` builds (``FallbackLlm``), with the
module's one loaded local model, because loading it per test costs seconds.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from appliance import config
from appliance.app import build_pipeline, build_text_brain
from appliance.brain import prompt
from appliance.brain.backends import FallbackLlm
from appliance.brain.llm import LanguageModel, LlmEngine
from appliance.brain.llm_server import ServerLlm
from appliance.brain.router import Router
from appliance.brain.worker import AnswerRecord, BrainWorker
from appliance.cli import main
from appliance.core.remote import read_status
from appliance.pipeline.messages import Interrupt, SpeakRequest, Transcript
from appliance.system.modelstore import ModelStore
from tests.support.broker import free_port
from tests.support.control import Probe, mqtt_settings
from tests.support.harness import Collector, running
from tests.support.llm_server import (
    API_KEY,
    MODEL,
    FaultyServer,
    LlamaServer,
    faulty_server,
    llama_server,
)

pytestmark = pytest.mark.slow

CACHE = config.load(None).cache_path
OPEN_QUESTION = "¿Por qué sube el pan en el horno?"


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One state dir for the module: the router trains once (seconds), then is read."""
    d = tmp_path_factory.mktemp("state")
    Router.load(d)
    return d


@pytest.fixture(scope="module")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("secrets") / "llm-key"
    path.write_text(API_KEY + "\n")
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    with llama_server(tmp_path_factory.mktemp("llama"), CACHE) as s:
        yield s


@pytest.fixture(scope="module")
def faulty() -> Iterator[FaultyServer]:
    with faulty_server() as s:
        yield s


@pytest.fixture(scope="module")
def local() -> LlmEngine:
    engine = LlmEngine(ModelStore(CACHE).resolve(MODEL), n_ctx=1024, max_tokens=24)
    engine.warm()
    return engine


def settings(state: Path, key_file: Path, url: str, max_tokens: int = 24,
             **server: Any) -> config.Settings:
    # A generous first-token time for the real server: this machine is shared and busy.
    llm_server = {"url": url, "model": MODEL, "api_key_file": str(key_file),
                  "first_token_timeout_s": 30.0, **server}
    return config.from_dict({"device": {"state_dir": str(state)},
                             "brain": {"llm_max_tokens": max_tokens, "llm_server": llm_server}})


class Rig:
    """The text brain running under the supervisor; ``ask`` waits for the whole answer."""

    def __init__(self, s: config.Settings, local: LanguageModel | None, tmp: Path) -> None:
        self.out = Collector()
        self.brain: BrainWorker = build_text_brain(s, self.out, state_dir=tmp)
        assert self.brain.llm_server is not None
        self.server: ServerLlm = self.brain.llm_server
        self.brain.llm = FallbackLlm(self.server, local)  # what setup() builds

    def ask(self, text: str, timeout: float = 120.0) -> AnswerRecord:
        before = self.brain.last_answer
        assert self.brain.inbox is not None
        self.brain.inbox.put(Transcript(utterance=1, text=text, final=True))
        wait_until(lambda: self.brain.last_answer is not before, timeout)
        answer = self.brain.last_answer
        assert answer is not None and answer.question == text
        return answer

    def said(self) -> list[SpeakRequest]:
        return [m for m in self.out.take() if isinstance(m, SpeakRequest)]


def wait_until(pred: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.levelno >= logging.ERROR and r.name.startswith("appliance")]


def test_the_answer_streams_from_the_server_into_the_splitter(server, state, key_file, local,
                                                               tmp_path) -> None:
    rig = Rig(settings(state, key_file, server.url), local, tmp_path)
    with running(rig.brain):
        answer = rig.ask("¿Cuál es la capital de Francia?")
    said = rig.said()
    assert (answer.route, answer.source) == ("llm", "server"), answer
    assert rig.server.last is not None and rig.server.last.tokens > 3
    assert rig.server.trace.events > 3  # one event per piece, as they were sampled
    assert said and said[-1].last and not any(m.last for m in said[:-1])
    assert [m.index for m in said] == list(range(len(said)))
    assert " ".join(m.text for m in said).split() == answer.answer.split()
    assert answer.first_token_s is not None and answer.first_token_s > 0


def test_context_and_system_prompt_reach_the_server_over_three_turns(server, state, key_file,
                                                                     local, tmp_path) -> None:
    rig = Rig(settings(state, key_file, server.url), local, tmp_path)
    questions = ["¿Cuál es la capital de Francia?", "¿Y cuántos habitantes tiene?",
                 "¿Y qué se puede visitar allí?"]
    with running(rig.brain):
        answers = [rig.ask(q) for q in questions]
    assert [a.source for a in answers] == ["server"] * 3
    messages = rig.server.trace.request["messages"]
    assert messages[0] == {"role": "system", "content": prompt.SYSTEM}
    assert [(m["role"], m["content"]) for m in messages[1:]] == [
        ("user", questions[0]), ("assistant", answers[0].answer.strip()),
        ("user", questions[1]), ("assistant", answers[1].answer.strip()),
        ("user", questions[2])]


def test_an_interrupt_closes_the_server_stream_within_one_chunk(server, state, key_file, local,
                                                               tmp_path) -> None:
    rig = Rig(settings(state, key_file, server.url, max_tokens=200), local, tmp_path)
    assert rig.brain.inbox is not None
    inbox = rig.brain.inbox

    def interrupt_after_three_chunks() -> None:
        wait_until(lambda: rig.server.trace.events >= 3, 120)
        inbox.put(Interrupt(reason="button"))  # as the interruption service does

    with running(rig.brain):
        threading.Thread(target=interrupt_after_three_chunks, daemon=True).start()
        rig.ask("Cuéntame la historia de la cocina mediterránea.")
        trace = rig.server.trace
        assert trace.closed.wait(10), "the HTTP stream was not closed"
        assert trace.events_after_stop <= 1, trace
        assert rig.server.last is not None and rig.server.last.cancelled
        assert rig.server.last.tokens < 200
        turn = rig.brain.conversation.window(10_000)[-1]
        assert turn.interrupted
        # the server saw its client go and stopped generating
        wait_until(lambda: "Disconnected from client" in server.log_text(), 30)
        assert rig.ask("¿Cuál es la capital de Francia?").source == "server"


def test_server_killed_mid_answer_then_local_answers_and_the_circuit_opens(
        state, key_file, local, tmp_path, caplog, capsys) -> None:
    with llama_server(tmp_path, CACHE) as doomed:
        s = settings(state, key_file, doomed.url, max_tokens=200, skip_after_failures=2)
        rig = Rig(s, local, state)  # its circuit is recorded where the doctor looks

        def kill_after_three_chunks() -> None:
            wait_until(lambda: rig.server.trace.events >= 3, 120)
            doomed.kill()

        with running(rig.brain) as sup:
            threading.Thread(target=kill_after_three_chunks, daemon=True).start()
            cut = rig.ask("Cuéntame la historia de la cocina mediterránea.")
            said = rig.said()
            assert cut.cut_off and cut.source == "server"
            assert said[-1].last and said[-1].text in _variants("llm_cut_off")
            assert [m.index for m in said] == list(range(len(said)))  # nothing lost
            assert any("failed mid-answer" in e for e in errors(caplog))

            caplog.clear()
            after = rig.ask(OPEN_QUESTION)  # the server is gone: connection refused
            assert after.source == "local" and after.answer.strip()
            (line,) = errors(caplog)
            assert "cannot connect" in line and "answering with the local model" in line
            assert "skipping the server for 60 s" in line  # 2 failures: the circuit opened

            caplog.clear()
            assert rig.ask(OPEN_QUESTION).source == "local"  # skipped: no wait, no new line
            assert errors(caplog) == []
            assert sup.restarts("brain") == 0

    recorded = read_status(state, "llm_server")  # what the doctor, another process, reads
    assert recorded is not None and recorded.state == "open"
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"device: {{state_dir: {state}}}\nbrain:\n  llm_server:\n"
                   f"    url: {doomed.url}\n    model: {MODEL}\n    api_key_file: {key_file}\n")
    capsys.readouterr()
    main(["doctor", "--config", str(cfg)])
    (row,) = [line for line in capsys.readouterr().out.splitlines()
              if line.startswith("llm server")]
    assert "warn" in row and "cannot connect" in row
    assert "the service: circuit OPEN" in row and "2 failures in a row" in row


def _variants(intent: str) -> set[str]:
    from appliance.brain.templates import Templates

    return set(Templates.load().table[f"{intent}.default"])


@pytest.mark.parametrize(("case", "expected"), [
    ("down", "cannot connect to"),
    ("wrong model", "model 'no-such-model' is not on the server (it has: gemma-3-270m)"),
    ("wrong key", "HTTP 401"),
    ("http500", "HTTP 500"),
    ("hang", "no first token within 1 s"),
    ("garbage", "malformed event from the server"),
])
def test_each_failure_is_one_log_line_a_local_answer_and_the_brain_keeps_going(
        case, expected, server, faulty, state, key_file, local, tmp_path, caplog,
        monkeypatch) -> None:
    url = {"down": f"http://127.0.0.1:{free_port()}/v1", "wrong model": server.url,
           "wrong key": server.url}.get(case) or faulty.url(case)
    extra: dict[str, Any] = {
        "hang": {"first_token_timeout_s": 1.0},
        "wrong model": {"model": "no-such-model"},
        "wrong key": {"api_key_file": "", "api_key_env": "APPLIANCE_TEST_LLM_KEY"},
    }.get(case, {})
    monkeypatch.setenv("APPLIANCE_TEST_LLM_KEY", "not-the-key")
    rig = Rig(settings(state, key_file, url, **extra), local, tmp_path)
    with running(rig.brain) as sup:
        answer = rig.ask(OPEN_QUESTION)
        said = rig.said()
        assert answer.source == "local" and answer.answer.strip(), answer
        assert said and said[-1].last
        (line,) = errors(caplog)
        assert expected in line and "answering with the local model" in line, line
        assert rig.ask("¿Qué hora es?").source == "template"  # still answering
        assert sup.restarts("brain") == 0


def test_without_a_local_model_a_failing_server_gets_the_apology(faulty, state, key_file,
                                                                  tmp_path, caplog) -> None:
    rig = Rig(settings(state, key_file, faulty.url("http500")), None, tmp_path)
    with running(rig.brain):
        answer = rig.ask(OPEN_QUESTION)
    assert answer.source == "apology" and answer.answer in _variants("llm_unavailable")
    (line,) = errors(caplog)
    assert "HTTP 500" in line and "answering with an apology" in line


def test_an_open_circuit_skips_the_server(faulty, state, key_file, local, tmp_path) -> None:
    """Half-open and closing again are tested on the breaker itself (test_remote.py), with an
    injected clock."""
    s = settings(state, key_file, faulty.url("http500"), skip_after_failures=2)
    rig = Rig(s, local, tmp_path)
    with running(rig.brain):
        before = faulty.posts["http500"]
        for _ in range(2):
            assert rig.ask(OPEN_QUESTION).source == "local"
        assert faulty.posts["http500"] == before + 2
        assert rig.server.breaker.status().state == "open"
        assert rig.ask(OPEN_QUESTION).source == "local"
        assert faulty.posts["http500"] == before + 2  # skipped, not asked


def test_ask_answers_from_the_server_and_holds_a_conversation(server, state, key_file,
                                                              tmp_path, capsys,
                                                              monkeypatch) -> None:
    """`appliance ask` builds the brain as the service does (setup() loads the local model
    behind the server) and prints each answer as it streams; with no text, each stdin line
    is a turn, and --json says who answered."""
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"device: {{state_dir: {state}}}\nbrain:\n  llm_max_tokens: 24\n"
                   f"  llm_server:\n    url: {server.url}\n    model: {MODEL}\n"
                   f"    api_key_file: {key_file}\n    first_token_timeout_s: 30\n")
    assert main(["ask", "--config", str(cfg), "¿Cuál es la capital de Francia?"]) == 0
    printed = capsys.readouterr().out
    assert printed.strip() and printed.endswith("\n") and printed.count("\n") == 1

    lines = ["¿Qué hora es?", "¿Cuál es la capital de Francia?", "¿Y cuántos habitantes tiene?"]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n\n"))
    assert main(["ask", "--json", "--config", str(cfg)]) == 0
    turns = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [t["question"] for t in turns] == lines
    assert [(t["route"], t["intent"], t["source"]) for t in turns] == [
        ("template", "time", "template"), ("llm", "llm", "server"), ("llm", "llm", "server")]
    assert all(t["answer"] and t["first_token_ms"] >= 0 and not t["cut_off"] for t in turns)


def test_the_circuit_shows_in_mqtt_diagnostics(broker, state, tmp_path) -> None:
    """The composition root hands the control plane its remotes' circuits as diagnostics."""
    mqtt = {**dataclasses.asdict(mqtt_settings(broker)), "diagnostics_interval_s": 1.0}
    s = config.from_dict({
        "device": {"id": "llmdiag", "state_dir": str(state)}, "tts": {"engine": "espeak"},
        "brain": {"llm_server": {"url": f"http://127.0.0.1:{free_port()}/v1", "model": MODEL,
                                 "skip_after_failures": 2}},
        "mqtt": mqtt})
    app = build_pipeline(s, prerender="none")
    assert app.brain.llm_server is not None
    app.brain.llm = FallbackLlm(app.brain.llm_server, None)  # setup() without a local model
    topic = "appliance/llmdiag/diagnostics"
    probe = Probe(broker, "ha-diag", topic)
    try:
        with running(*app.control.workers):
            for _ in range(2):
                app.brain.handle(Transcript(utterance=1, text=OPEN_QUESTION, final=True))
            doc = probe.wait_json(topic, lambda d: d.get("remote", {}).get(
                "llm_server", {}).get("state") == "open", timeout=20)
    finally:
        probe.close()
    assert doc is not None, [m.json() for m in probe.on(topic)]
    circuit = doc["remote"]["llm_server"]
    assert circuit["failures"] == 2 and "cannot connect" in circuit["last_error"]
    assert circuit["url"] == s.brain.llm_server.url and circuit["retry_in_s"] > 0
