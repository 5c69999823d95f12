"""The incremental Spanish splitter: a table of tricky cases, fed whole and token by token."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from appliance.brain.splitter import SentenceSplitter, split

CASES: list[tuple[str, list[str]]] = [
    ("Hola. Adiós.", ["Hola.", "Adiós."]),
    ("¿Qué hora es? Son las tres.", ["¿Qué hora es?", "Son las tres."]),
    ("¡Qué bien! Me alegro.", ["¡Qué bien!", "Me alegro."]),
    ("¿De verdad?¡No me digas!", ["¿De verdad?", "¡No me digas!"]),
    ("¡Qué frío! dijo ella al salir.", ["¡Qué frío! dijo ella al salir."]),
    ("¿Vienes?, le pregunté. No contestó.", ["¿Vienes?, le pregunté.", "No contestó."]),
    ("Pues... no sé qué decirte.", ["Pues... no sé qué decirte."]),
    ("Espera... Ya lo tengo.", ["Espera...", "Ya lo tengo."]),
    ("Bueno… Vamos allá.", ["Bueno…", "Vamos allá."]),
    ("¿Y entonces...? Nada de nada.", ["¿Y entonces...?", "Nada de nada."]),
    ("El Sr. García ha llegado. Pasa.", ["El Sr. García ha llegado.", "Pasa."]),
    ("La Sra. Pérez y la Dra. López hablan.", ["La Sra. Pérez y la Dra. López hablan."]),
    ("Llama al Dr. Ruiz. Es urgente.", ["Llama al Dr. Ruiz.", "Es urgente."]),
    ("El Prof. Martín explica el art. 14 de la ley.",
     ["El Prof. Martín explica el art. 14 de la ley."]),
    ("Compra pan, leche, etc. Luego vuelve.", ["Compra pan, leche, etc.", "Luego vuelve."]),
    ("Frutas, verduras, etc. y también agua.", ["Frutas, verduras, etc. y también agua."]),
    ("Viajó a EE. UU. el martes.", ["Viajó a EE. UU. el martes."]),
    ("Vive en EE. UU. Trabaja allí.", ["Vive en EE. UU.", "Trabaja allí."]),
    ("Vive en EE.UU. desde 2010.", ["Vive en EE.UU. desde 2010."]),
    ("Quedamos a las 5 p. m. del viernes.", ["Quedamos a las 5 p. m. del viernes."]),
    ("Quedamos a las 5 p. m. Llega puntual.", ["Quedamos a las 5 p. m.", "Llega puntual."]),
    ("Me levanto a las 7 a. m. todos los días.", ["Me levanto a las 7 a. m. todos los días."]),
    ("Pi vale 3,14 aproximadamente. Bien.", ["Pi vale 3,14 aproximadamente.", "Bien."]),
    ("En inglés se escribe 3.14 con punto.", ["En inglés se escribe 3.14 con punto."]),
    ("Hay 3.300.000 habitantes. Es mucho.", ["Hay 3.300.000 habitantes.", "Es mucho."]),
    ("El tren sale a las 10.30 h. No llegues tarde.",
     ["El tren sale a las 10.30 h.", "No llegues tarde."]),
    ("Sale a las 10.30 h y llega a las 12.", ["Sale a las 10.30 h y llega a las 12."]),
    ("Visita www.ejemplo.com. Allí está todo.", ["Visita www.ejemplo.com.", "Allí está todo."]),
    ("Mira https://ejemplo.es/receta?id=3. Es fácil.",
     ["Mira https://ejemplo.es/receta?id=3.", "Es fácil."]),
    ("Escribe a ana.gomez@correo.es. Te responderá.",
     ["Escribe a ana.gomez@correo.es.", "Te responderá."]),
    ("Dijo: «Hola. ¿Qué tal?». Luego se fue.", ["Dijo: «Hola. ¿Qué tal?».", "Luego se fue."]),
    ("«Ya voy.» Y se marchó.", ["«Ya voy.»", "Y se marchó."]),
    ('Dijo "no puedo. Lo siento" y colgó. Raro.', ['Dijo "no puedo. Lo siento" y colgó.', "Raro."]),
    ('"Perfecto." Eso fue todo.', ['"Perfecto."', "Eso fue todo."]),
    ("Lo escribió J. R. R. Tolkien. Me encanta.", ["Lo escribió J. R. R. Tolkien.", "Me encanta."]),
    ("Nació en el siglo XX. Murió joven.", ["Nació en el siglo XX.", "Murió joven."]),
    ("Es el 1.º de la lista. Bien.", ["Es el 1.º de la lista.", "Bien."]),
    ("Son unos 5 km. Tardarás una hora.", ["Son unos 5 km.", "Tardarás una hora."]),
    ("Está a aprox. 3 km de aquí.", ["Está a aprox. 3 km de aquí."]),
    ("Véase p. ej. Madrid o Sevilla.", ["Véase p. ej. Madrid o Sevilla."]),
    ("Ud. tiene razón. Gracias.", ["Ud. tiene razón.", "Gracias."]),
    ("Ingredientes:\n- dos huevos\n- sal\n\nBate los huevos.",
     ["Ingredientes:", "- dos huevos", "- sal", "Bate los huevos."]),
    ("Esta frase está\npartida en dos líneas. Fin.",
     ["Esta frase está partida en dos líneas.", "Fin."]),
    ("El año 2020. 2021 fue mejor.", ["El año 2020.", "2021 fue mejor."]),
    ("   Espacios   al   principio.   Y al final.   ", ["Espacios al principio.", "Y al final."]),
    ("Sin punto final", ["Sin punto final"]),
    ("¿Sí?¿No?", ["¿Sí?", "¿No?"]),
    ("¡¡Increíble!! ¿¿En serio??", ["¡¡Increíble!!", "¿¿En serio??"]),
    ("Tel. 91 555 12 34. Llama ya.", ["Tel. 91 555 12 34.", "Llama ya."]),
    ("Vale. (Lo haré mañana.) Seguro.", ["Vale.", "(Lo haré mañana.)", "Seguro."]),
    ("", []),
    ("...", ["..."]),
]

LONG_FIRST = (
    "Para hacer una tortilla de patatas como la de mi abuela necesitas paciencia, buenas "
    "patatas y aceite de oliva virgen extra, porque el secreto está en freírlas despacio. "
    "Después bate los huevos."
)
LONG_EXPECTED = [
    "Para hacer una tortilla de patatas como la de mi abuela necesitas paciencia,",
    "buenas patatas y aceite de oliva virgen extra, porque el secreto está en freírlas despacio.",
    "Después bate los huevos.",
]


def llm_tokens(text: str) -> list[str]:
    """Word pieces with their leading space, roughly how an LLM streams Spanish."""
    return re.findall(r"\s*[^\s.,;:?!…]{1,4}|\s*[.,;:?!…]|\s+", text)


def feed_all(chunks: list[str], first_max_chars: int = 120) -> list[str]:
    s = SentenceSplitter(first_max_chars)
    out: list[str] = []
    for c in chunks:
        out += s.feed(c)
    return out + s.flush()


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0][:30] for c in CASES])
def test_table_whole_and_streamed(text: str, expected: list[str]) -> None:
    assert split(text) == expected
    assert "".join(llm_tokens(text)) == text
    assert feed_all(llm_tokens(text)) == expected
    assert feed_all(list(text)) == expected


def test_sentence_is_emitted_as_soon_as_next_char_proves_the_end() -> None:
    s = SentenceSplitter()
    assert s.feed("Hola, Sr.") == []
    assert s.feed(" ") == []
    assert s.feed("García.") == []
    assert s.feed(" ") == []
    assert s.feed("¿") == ["Hola, Sr. García."]
    assert s.feed("Qué tal?") == []
    assert s.flush() == ["¿Qué tal?"]


def test_overlong_first_sentence_is_cut_at_a_clause() -> None:
    assert split(LONG_FIRST, 80) == LONG_EXPECTED
    assert feed_all(list(LONG_FIRST), 80) == LONG_EXPECTED
    assert feed_all(llm_tokens(LONG_FIRST), 80) == LONG_EXPECTED
    # Only the first sentence is cut; later ones stay whole.
    later = "Hola. " + LONG_FIRST
    assert split(later, 80)[1] == LONG_FIRST.split(" Después")[0]


def test_long_first_sentence_without_comma_cuts_before_a_conjunction() -> None:
    text = ("Hoy te voy a explicar con todo detalle la mejor manera de conservar el pan del día "
            "pero sin que se ponga duro en la nevera.")
    first, second = split(text, 60)
    assert first.endswith("del día") and second.startswith("pero ")


def test_flush_resets_for_the_next_answer() -> None:
    s = SentenceSplitter(40)
    s.feed("Primera respuesta sin punto")
    assert s.flush() == ["Primera respuesta sin punto"]
    text = "Una segunda respuesta bastante larga que de nuevo se corta, porque es la primera."
    assert s.feed(text) + s.flush() == split(text, 40)


def test_rejects_a_tiny_limit() -> None:
    with pytest.raises(ValueError, match="first_max_chars"):
        SentenceSplitter(5)


def test_cli_prints_a_json_array() -> None:
    text = "Hola, Sr. Pérez. ¿Qué tal? Son las 10.30 h. Adiós."
    r = subprocess.run(
        [sys.executable, "-m", "appliance", "split"], input=text, capture_output=True,
        text=True, timeout=60, check=True,
    )
    assert json.loads(r.stdout) == ["Hola, Sr. Pérez.", "¿Qué tal?", "Son las 10.30 h.", "Adiós."]
    assert "Pérez" in r.stdout  # ensure_ascii=False


PIECES = [
    "Hola", " ", ".", "...", "…", "?", "!", "¿", "¡", "«", "»", '"', ",", ";", ":", "\n", "\n\n",
    "Sr.", "Dra.", "etc.", "EE. UU.", "p. m.", "3,14", "3.300.000", "10.30 h", "www.x.es",
    " y ", " pero ", "casa", "Luego", "mañana", "- ", "1.", "J. R.", "Ud.", " ", "  ",
    "una frase bastante larga que sigue y sigue sin parar nunca",
]


@settings(max_examples=300, deadline=None)
@given(
    parts=st.lists(st.sampled_from(PIECES), max_size=40),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=30),
    limit=st.integers(min_value=20, max_value=80),
)
def test_any_chunking_gives_the_whole_text_result(parts: list[str], cuts: list[int],
                                                  limit: int) -> None:
    text = "".join(parts)
    points = sorted({c % (len(text) + 1) for c in cuts})
    chunks = [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]
    whole = split(text, limit)
    assert feed_all(chunks, limit) == whole
    assert "".join("".join(whole).split()) == "".join(text.split())  # nothing lost or added


def test_two_threads_split_exactly_as_one() -> None:
    """One splitter per stream, module tables shared read-only (scripts/ci-ft.sh runs this with
    the GIL off): two threads at once give the one-thread sentences."""
    texts = [text for text, _ in CASES] + [LONG_FIRST]
    expected = [(split(t), feed_all(llm_tokens(t))) for t in texts]
    results: list = [None, None]
    barrier = threading.Barrier(2)

    def work(k: int) -> None:
        barrier.wait()
        results[k] = [[(split(t), feed_all(llm_tokens(t))) for t in texts] for _ in range(20)]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    for rounds in results:
        assert rounds is not None
        assert all(got == expected for got in rounds)
