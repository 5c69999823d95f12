"""What the LLM is told: a Spanish system prompt for short spoken answers.

A base model (the packaged Gemma 3 270M) does not follow instructions, it continues text, so it
gets a transcript of example exchanges to continue; an instruct model (Qwen2.5 instruct on the
device) gets the same system prompt as chat messages. The few-shot prefix never changes, so the
engine's KV cache keeps it evaluated between questions.
"""

from __future__ import annotations

from collections.abc import Sequence

from appliance.brain.context import Turn

SYSTEM = (
    "Eres el asistente de voz de una cocina. Respondes siempre en español, con frases cortas "
    "y naturales pensadas para oírse en voz alta: sin listas, sin símbolos, sin markdown. "
    "Si no sabes algo, lo dices en una frase."
)

# (user, assistant) exchanges; the last pair is a follow-up that needs the previous turn.
EXAMPLES: tuple[tuple[str, str], ...] = (
    ("¿Cuál es la capital de Italia?", "La capital de Italia es Roma."),
    ("¿Cuánto se cuece un huevo duro?",
     "Unos diez minutos en agua hirviendo. Después pásalo a agua fría para pelarlo mejor."),
    ("¿Qué puedo cenar hoy?",
     "Una tortilla francesa con ensalada es rápida y ligera. Si tienes más tiempo, unas "
     "verduras al horno."),
    ("¿Qué tengo que hacer para limpiar la nevera a fondo?",
     "Primero desenchúfala y sácalo todo. Tira lo que esté caducado. Saca los estantes y los "
     "cajones. Lávalos en el fregadero con agua caliente y un poco de jabón. Limpia el interior "
     "con agua y vinagre. No olvides la goma de la puerta. Sécalo todo con un paño limpio. "
     "Vuelve a montar los estantes. Enchúfala y espera a que enfríe. Por último, guarda la "
     "comida ordenada."),
    ("¿Quién escribió el Quijote?", "Miguel de Cervantes."),
    ("¿En qué año?", "La primera parte se publicó en 1605."),
)

USER, ASSISTANT = "Usuario:", "Asistente:"
# Where a base model's answer ends: it starts writing the next question or a new block.
STOPS = ("\nUsuario:", "\n\n", "###", "\nAsistente:")


def fewshot_prefix() -> str:
    lines = [SYSTEM, ""]
    for user, answer in EXAMPLES:
        lines += [f"{USER} {user}", f"{ASSISTANT} {answer}"]
    lines += ["###", ""]
    return "\n".join(lines)


def fewshot(turns: Sequence[Turn], question: str) -> str:
    """The completion prompt for a base model: examples, then this conversation so far."""
    lines = [fewshot_prefix().rstrip("\n")]
    for turn in turns:
        lines += [f"{USER} {turn.user}", f"{ASSISTANT} {turn.assistant}"]
    lines += [f"{USER} {question.strip()}", ASSISTANT]
    return "\n".join(lines)


def chat(turns: Sequence[Turn], question: str) -> list[dict[str, str]]:
    """The messages for an instruct model's chat template."""
    messages = [{"role": "system", "content": SYSTEM}]
    for turn in turns:
        messages += [{"role": "user", "content": turn.user},
                     {"role": "assistant", "content": turn.assistant}]
    messages.append({"role": "user", "content": question.strip()})
    return messages
