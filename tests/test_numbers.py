"""Spanish duration and timer-name parsing for the timer_set slots, through normalization, as
the router does it (Whisper style with digits and Vosk style with words)."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from appliance.brain.normalize import _spell_digits, detect_lang, normalize
from appliance.brain.numbers import parse_duration, parse_timer_name, spell
from appliance.brain.router import extract_slots, load_examples
from appliance.core.text import strip_accents

DURATIONS = [
    ("un minuto y medio", 90),
    ("una hora y cuarto", 4500),
    ("media hora", 1800),
    ("cuarenta y cinco segundos", 45),
    ("2 minutos", 120),
    ("Pon un temporizador de 5 minutos.", 300),
    ("diez minutos y treinta segundos", 630),
    ("10 minutos y 30 segundos", 630),
    ("hora y media", 5400),
    ("tres cuartos de hora", 2700),
    ("un cuarto de hora", 900),
    ("medio minuto", 30),
    ("una hora y diez", 4200),
    ("dos minutos y treinta", 150),
    ("veintiún minutos", 1260),
    ("21 minutos", 1260),
    ("treinta y un minutos", 1860),
    ("ciento veinte segundos", 120),
    ("dos horas y media", 9000),
    ("1 hora", 3600),
    ("¿Me pones un temporizador de 1,5 minutos?", 90),
    ("10 min", 600),
    ("5min", 300),
    ("dos y medio minutos", 150),
    ("una hora, diez minutos y cinco segundos", 4205),
    ("seis minutos y medio", 390),
    ("noventa segundos", 90),
    ("set a timer for an hour and a half", 5400),
    ("half an hour", 1800),
    ("90 seconds", 90),
    ("a minute", 60),
    ("pon el temporizador de la pasta a doce minutos", 720),
]


@pytest.mark.parametrize(("text", "seconds"), DURATIONS)
def test_duration_table(text: str, seconds: int) -> None:
    assert parse_duration(normalize(text)) == seconds


@pytest.mark.parametrize("text", ["pon un temporizador", "qué hora es", "hola", "",
                                  "una receta de pasta", "cuanto queda"])
def test_no_duration_when_none_is_said(text: str) -> None:
    assert parse_duration(normalize(text)) is None


@pytest.mark.parametrize(("text", "name"), [
    ("pon un temporizador de diez minutos para la pasta", "la pasta"),
    ("cancela el de la pasta", "la pasta"),
    ("temporizador de los huevos de 5 minutos", "los huevos"),
    ("¿Cuánto le queda al del arroz?", "el arroz"),
    ("para el temporizador para las lentejas", "las lentejas"),
    ("Temporizador de 2 horas y media para el pan, porfa", "el pan"),
    ("pon una alarma llamada pizza de 3 minutos", "pizza"),
    ("pon un temporizador de cinco minutos", None),
])
def test_timer_names(text: str, name: str | None) -> None:
    assert parse_timer_name(normalize(text)) == name


def test_whisper_and_vosk_styles_normalize_alike() -> None:
    assert normalize("¿Pon un temporizador de 5 minutos?") == normalize(
        "pon un temporizador de cinco minutos")
    assert normalize("¡Qué hora es!") == normalize("que hora es") == "que hora es"
    assert normalize("Pon 1 hora") == "pon una hora"
    assert detect_lang(normalize("What's the time?")) == "en"
    assert detect_lang(normalize("¿Qué hora es?")) == "es"


def test_every_slot_in_the_training_data_parses() -> None:
    """The committed data carries the intended slots: all of them must come out again."""
    checked = 0
    for ex in load_examples():
        if ex.slots:
            got = extract_slots(ex.intent, normalize(ex.text))
            assert {k: got.get(k) for k in ex.slots} == ex.slots, ex.text
            checked += 1
    assert checked > 300


def test_spell() -> None:
    assert spell(21, "m") == "veintiún" and spell(21, "f") == "veintiuna"
    assert spell(45) == "cuarenta y cinco"
    assert spell(100) == "cien" and spell(115) == "ciento quince"
    assert spell(2026) == "dos mil veintiséis"
    assert spell(200, "f") == "doscientas"


def _normalize_step_by_step(text: str) -> str:
    """What normalize() does, one plain pass per step (it folds most text by one table)."""
    text = text.lower()
    if re.search(r"\d", text):
        text = _spell_digits(text)
    text = re.sub(r"['’`´]", "", strip_accents(text))
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9ñ ]+", " ", text)).strip()


# Latin letters, Latin-1 symbols and general punctuation (normalize folds these by its table),
# and the odd character from anywhere else (then it takes the steps one by one).
TRANSCRIPT_CHARS = st.one_of(st.characters(max_codepoint=0x24F),
                             st.characters(min_codepoint=0x2000, max_codepoint=0x206F),
                             st.characters())


@settings(max_examples=400, deadline=None)
@given(st.text(TRANSCRIPT_CHARS, max_size=40))
def test_normalize_by_table_is_the_steps(text: str) -> None:
    assert normalize(text) == _normalize_step_by_step(text)


def test_normalize_punctuation_and_glued_units() -> None:
    assert normalize("¿Me pones 5min y 2h?") == "me pones cinco min y dos h"
    assert normalize("10segs, 3 mins") == "diez segs tres mins"
    assert normalize("l’agua d'or ´x") == "lagua dor x"
    assert normalize("Ñandú ½ taza") == "nandu 1 2 taza"  # NFKD: 1⁄2
