"""The local LLM with the packaged Gemma 3 270M base model (few-shot prompt), loaded once."""

from __future__ import annotations

import gc
import threading

import pytest

from appliance import config
from appliance.brain import prompt
from appliance.brain.context import Conversation
from appliance.brain.llm import LlmEngine
from appliance.system.modelstore import ModelStore

pytestmark = pytest.mark.slow

SPANISH = {"el", "la", "de", "es", "en", "un", "una", "que", "los", "las", "y", "del", "se"}


@pytest.fixture(scope="module")
def engine() -> LlmEngine:
    settings = config.from_dict({"brain": {"llm_context_tokens": 1024, "llm_max_tokens": 24}})
    path = ModelStore(settings.cache_path).resolve(settings.brain.llm_model)
    return LlmEngine(path, n_threads=settings.brain.llm_threads, n_ctx=1024, max_tokens=24)


def test_base_model_gets_the_fewshot_prompt(engine):
    assert engine.mode == "fewshot"
    text = engine.render("¿Qué es un sofrito?")
    assert text.startswith(prompt.SYSTEM)
    assert text.endswith("Usuario: ¿Qué es un sofrito?\nAsistente:")


def test_warm_leaves_only_the_question_to_evaluate(engine):
    """After warm() (what the brain does at start-up) a question evaluates its own few tokens,
    not the few-shot prefix again."""
    before = engine.evaluated_tokens
    engine.warm()
    prefix = engine.evaluated_tokens - before
    prefix_len = engine.count_tokens(prompt.fewshot_prefix())
    assert prefix >= prefix_len * 0.9 or before > 0  # nothing new if a test ran before
    assert engine.count_tokens(engine.render("x")) > prefix_len
    mark = engine.evaluated_tokens
    list(engine.stream("¿Qué es un sofrito?", max_tokens=2))
    question = engine.evaluated_tokens - mark
    assert 0 < question < 40 < prefix_len, (question, prefix_len)


def test_streams_spanish_text_piece_by_piece(engine):
    pieces = list(engine.stream("¿Qué es una tortilla de patatas?", max_tokens=20))
    assert len(pieces) > 2
    words = {w.strip(".,;:¿?¡!").lower() for w in "".join(pieces).split()}
    assert words & SPANISH, "".join(pieces)
    assert engine.last is not None and engine.last.tokens >= len(pieces)
    assert not engine.last.cancelled


def test_an_answer_leaves_no_sampler_holding_native_memory(engine):
    """Each answer's llama.cpp sampler chain (MBs of candidates for a 262k vocabulary) is
    freed when the answer ends, finished or cut, not left to a rare full GC (issue 15)."""
    from llama_cpp._internals import LlamaSampler

    def live() -> int:
        return sum(1 for o in gc.get_objects()
                   if isinstance(o, LlamaSampler) and o.sampler is not None)

    gc.collect()
    gc.disable()  # what a busy service looks like between its rare full collections
    try:
        for _ in range(3):
            list(engine.stream("¿Qué es un sofrito?", max_tokens=3))
        cancel = threading.Event()
        for _piece in engine.stream("Cuéntame un cuento.", cancel=cancel, max_tokens=8):
            cancel.set()
        assert live() == 0
    finally:
        gc.enable()


def test_interrupt_stops_generation_within_one_token(engine):
    cancel = threading.Event()
    pieces = []
    for piece in engine.stream("Cuéntame la historia del universo.", cancel=cancel,
                               max_tokens=24):
        pieces.append(piece)
        if len(pieces) == 2:
            cancel.set()
    assert len(pieces) == 2
    assert engine.last.cancelled
    # tokens sampled = pieces seen (plus at most one held back as a possible stop prefix)
    assert engine.last.tokens <= 3


def test_interrupt_from_another_thread(engine):
    cancel = threading.Event()
    pieces = []
    for piece in engine.stream("Explícame cómo se hace el pan.", cancel=cancel, max_tokens=24):
        pieces.append(piece)
        if len(pieces) == 1:
            threading.Thread(target=cancel.set).start()
    assert engine.last.cancelled and len(pieces) <= 3


def test_previous_turn_reaches_the_second_prompt(engine):
    conv = Conversation(4)
    first_q = "¿Capital de Francia?"
    first_a = "".join(engine.stream(first_q, conv.window(engine.context_budget()),
                                    max_tokens=12))
    assert first_a.strip()
    conv.add(first_q, first_a)
    turns = conv.window(engine.context_budget(), engine.count_tokens)
    second = engine.render("¿Habitantes?", turns)
    assert f"Usuario: {first_q}\nAsistente: {first_a.strip()}\nUsuario: ¿Habitantes?" in second
    assert list(engine.stream("¿Habitantes?", turns, max_tokens=6))


def test_context_window_respects_turns_budget_and_age():
    t = [1000.0]
    conv = Conversation(2, max_age_s=60.0, clock=lambda: t[0])
    conv.add("uno", "primera respuesta")
    conv.add("dos", "segunda respuesta")
    conv.add("tres", "tercera respuesta")
    assert [x.user for x in conv.window(10_000)] == ["dos", "tres"]
    assert [x.user for x in conv.window(16)] == ["tres"]  # budget keeps the newest
    assert conv.window(3) == []
    t[0] += 61
    assert conv.window(10_000) == []
    assert Conversation(0).window(100) == []
