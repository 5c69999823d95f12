"""Home-automation requests in Spanish: what to do, to which device, where, and to what value.

The appliance does not drive the house itself: Home Assistant does. The router sends these
requests to the ``home`` route, and the ``intent`` event carries the transcript (for Home
Assistant's own conversation agent) together with the words parsed here, so an automation
can also act on them directly. Works on the router's normalized text (lower case, no
accents, numbers in words).
"""

from __future__ import annotations

import re
from typing import Any

from appliance.brain.numbers import parse_number

# First words that say what to do; a question about a state is a ``query``.
ACTIONS: dict[str, str] = {
    **dict.fromkeys(("enciende", "encienda", "encender", "prende", "activa", "conecta"),
                    "turn_on"),
    **dict.fromkeys(("apaga", "apague", "apagar", "desactiva", "desconecta"), "turn_off"),
    **dict.fromkeys(("abre", "abra", "abrir"), "open"),
    **dict.fromkeys(("cierra", "cierre", "cerrar"), "close"),
    **dict.fromkeys(("sube", "suba", "subir"), "raise"),
    **dict.fromkeys(("baja", "baje", "bajar"), "lower"),
    **dict.fromkeys(("pon", "ponme", "ajusta", "cambia", "programa", "deja"), "set"),
    **dict.fromkeys(("esta", "estan", "hay", "cual", "que", "cuanta", "como"), "query"),
}
DEVICES: tuple[str, ...] = ((
    "luz", "luces", "lampara", "lamparas", "persiana", "persianas", "toldo", "cortinas",
    "calefaccion", "aire acondicionado", "aire", "termostato", "temperatura", "radiador",
    "puerta", "ventana", "ventanas", "garaje", "alarma de casa", "television", "tele",
    "ventilador", "extractor", "enchufe", "cafetera", "lavavajillas", "lavadora", "secadora",
    "robot aspirador", "aspiradora", "riego", "estufa", "musica", "radio", "caldera",
    "deshumidificador", "purificador", "horno",
))
AREAS: tuple[str, ...] = ((
    "cocina", "salon", "comedor", "dormitorio", "dormitorio principal", "habitacion",
    "habitacion de invitados", "cuarto de los ninos", "bano", "aseo", "pasillo", "entrada",
    "recibidor", "terraza", "jardin", "garaje", "despacho", "estudio", "balcon", "porche",
    "sotano", "buhardilla", "lavadero", "patio", "piscina", "casa",
))
_AREA_AFTER = re.compile(r"\b(?:del|de la|de los|de las|en el|en la|en los|en las) "
                         r"([a-z ]+?)(?= al? | en | de | por |$)")
_UNITS = {"grados": "°C", "grado": "°C", "por ciento": "%", "porciento": "%"}


def _find(words: str, options: tuple[str, ...]) -> str | None:
    """The option said first (the longest of those starting there)."""
    found = [(m.start(), -len(o), o) for o in options
             if (m := re.search(rf"\b{o}\b", words)) is not None]
    return min(found)[2] if found else None


def home_slots(norm: str) -> dict[str, Any]:
    """``action``, ``device``, ``area``, ``value`` (and its ``unit``), those that are said:
    "pon la calefaccion del salon a veintiun grados" -> set, calefaccion, salon, 21, °C."""
    tokens = norm.split()
    slots: dict[str, Any] = {}
    action = next((ACTIONS[t] for t in tokens[:3] if t in ACTIONS), None)
    if action is not None:
        slots["action"] = action
    device = _find(norm, DEVICES)
    if device is not None:
        slots["device"] = device
    rest = norm.replace(device, " ", 1) if device else norm
    area = _find(rest, AREAS)
    if area is None:
        m = _AREA_AFTER.search(rest)
        area = m.group(1).strip() if m else None
    if area:
        slots["area"] = area
    for i, tok in enumerate(tokens):
        if tok in ("a", "al", "en") and i + 1 < len(tokens):
            found = parse_number(tokens, i + 1)
            if found is not None:
                value, end = found
                slots["value"] = int(value) if value == int(value) else value
                unit = " ".join(tokens[end:end + 2])
                slots["unit"] = next((u for w, u in _UNITS.items() if unit.startswith(w)), "")
                if slots["unit"] == "" and tok == "al":
                    slots["unit"] = "%"  # "al cincuenta": a percentage
                break
    return slots
