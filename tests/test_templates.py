"""The instant Spanish answers: enough of them, every intent renders, slots are spoken in words,
static/dynamic split is usable for pre-rendered openings."""

import datetime as dt
import re

import pytest

from appliance.brain.router import INTENTS
from appliance.brain.templates import Templates, say_clock, say_duration

NOW = dt.datetime(2026, 11, 24, 15, 15)  # a Tuesday


@pytest.fixture(scope="module")
def templates() -> Templates:
    return Templates.load(seed=7)


def test_at_least_500_templates(templates: Templates) -> None:
    assert len(templates) >= 500
    assert all(len(v) >= 5 for v in templates.table.values())


CONTEXTS = [
    ("timer_set", {"seconds": 90}, {}),
    ("timer_set", {"seconds": 4500, "name": "la pasta"}, {}),
    ("timer_set", {}, {}),
    ("timer_cancel", {}, {"cancelled": [None]}),
    ("timer_cancel", {"name": "la pasta"}, {"cancelled": ["la pasta"]}),
    ("timer_cancel", {"all": True}, {"cancelled": ["la pasta", "los huevos"]}),
    ("timer_cancel", {}, {"cancelled": []}),
    ("timer_cancel", {"name": "el arroz"}, {"cancelled": []}),
    ("timer_cancel", {"all": True}, {}),
    ("timer_query", {}, {"timers": [{"name": None, "remaining": 125}]}),
    ("timer_query", {}, {"timers": [{"name": "la pasta", "remaining": 61}]}),
    ("timer_query", {}, {"timers": [{"name": "la pasta", "remaining": 61},
                                    {"name": None, "remaining": 600}]}),
    ("timer_query", {}, {"timers": []}),
    ("timer_done", {}, {}),
    ("timer_done", {"name": "los huevos"}, {}),
    ("volume_up", {}, {"volume": 70}),
    ("volume_up", {}, {"at_limit": True}),
    ("volume_down", {}, {}),
    ("volume_down", {}, {"volume": 0, "at_limit": True}),
    ("not_understood", {}, {}),
    ("llm_unavailable", {}, {}),
    ("llm_cut_off", {}, {}),
]


@pytest.mark.parametrize(("intent", "slots", "context"),
                         [(i, {}, {}) for i in INTENTS if not i.startswith("timer_")] + CONTEXTS)
def test_every_intent_renders_without_unfilled_slots(templates, intent, slots, context) -> None:
    for _ in range(25):  # walk through the variations
        r = templates.render(intent, slots, NOW, context)
        assert r.text and "{" not in r.text and "}" not in r.text
        assert not re.search(r"\d", r.text), r.text  # numbers are spoken in words
        assert r.text == f"{r.opening} {r.rest}".strip()
        assert r.text[0].isupper() or r.text[0] in "¡¿"
        assert r.static == (r.rest == "")


def test_every_case_key_is_reachable_and_every_variant_renders(templates) -> None:
    seen = set()
    for intent, slots, context in CONTEXTS + [(i, {}, {}) for i in INTENTS]:
        seen.add(templates.render(intent, slots, NOW, context).key)
    for h in (8, 16, 23):
        seen.add(templates.render("greeting", {}, NOW.replace(hour=h)).key)
    assert seen >= set(templates.table)


def test_slots_are_spoken(templates) -> None:
    r = templates.render("time", {}, NOW)
    assert "las tres y cuarto" in r.text
    r = templates.render("date", {}, NOW)
    assert "martes" in r.text and "noviembre" in r.text
    texts = {templates.render("timer_set", {"seconds": 90}, NOW).text for _ in range(30)}
    assert any("un minuto y medio" in t for t in texts)
    texts = {templates.render("timer_set", {"seconds": 300, "name": "la pasta"}, NOW).text
             for _ in range(30)}
    assert all("la pasta" in t.lower() for t in texts)
    r = templates.render("timer_query", {}, NOW, {"timers": [{"name": "", "remaining": 4500}]})
    assert "una hora y cuarto" in r.text


def test_no_immediate_repetition(templates) -> None:
    picks = [templates.render("thanks").template for _ in range(50)]
    assert all(a != b for a, b in zip(picks, picks[1:], strict=False))


def test_dynamic_answers_have_static_openings(templates) -> None:
    static = set(templates.static_texts())
    r = templates.render("timer_set", {"seconds": 300}, NOW)
    assert not r.static
    if r.opening:
        assert r.opening in static
    openings = [templates.render("timer_set", {"seconds": 300}, NOW).opening for _ in range(40)]
    assert sum(bool(o) for o in openings) > 30
    assert "¡De nada!" in static  # static answers are pre-renderable whole


@pytest.mark.parametrize(("seconds", "words"), [
    (90, "un minuto y medio"), (4500, "una hora y cuarto"), (1800, "media hora"),
    (45, "cuarenta y cinco segundos"), (2700, "tres cuartos de hora"), (5400, "una hora y media"),
    (1260, "veintiún minutos"), (3660, "una hora y un minuto"), (61, "un minuto y un segundo"),
])
def test_say_duration(seconds: int, words: str) -> None:
    assert say_duration(seconds) == words


@pytest.mark.parametrize(("h", "m", "said"), [
    (15, 15, ("son", "las tres y cuarto de la tarde")),
    (13, 30, ("es", "la una y media de la tarde")),
    (4, 45, ("son", "las cinco menos cuarto de la madrugada")), (0, 0, ("es", "medianoche")),
    (9, 37, ("son", "las nueve y treinta y siete de la mañana")), (12, 0, ("es", "mediodía")),
])
def test_say_clock(h: int, m: int, said: tuple[str, str]) -> None:
    assert say_clock(dt.time(h, m)) == said


def test_bad_template_file_is_a_clear_error(tmp_path) -> None:
    bad = tmp_path / "t.yaml"
    bad.write_text("thanks:\n  default: []\n")
    with pytest.raises(ValueError, match="thanks.default"):
        Templates.load(bad)
