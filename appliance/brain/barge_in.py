"""Words spoken over the appliance's own voice: stop it, answer them, or let it carry on.

With echo cancellation the microphone stays open while the appliance talks, so what it hears
then may be the person telling it to stop, a new request for it, or someone else in the
kitchen. Only the first two may cut the answer:

- a stop phrase ("para", "basta ya", "silencio, por favor"...; ``listen.stop_phrases``) or the
  router's ``stop`` intent said with confidence -> ``stop``: silence, no reply;
- in ``always`` mode, a request the router is sure of (``listen.barge_in_confidence``) ->
  ``answer``: cut and answer it (in the other modes a request needs the wake word first,
  which cuts the answer on its own);
- anything else (chatter, unsure routes, an open question for the LLM) -> ``ignored``.
"""

from __future__ import annotations

from typing import Literal

from appliance.brain.router import RouteResult
from appliance.core.stop_phrases import StopPhrases

Decision = Literal["stop", "answer", "ignored"]

# Small talk a bystander says all the time: never worth cutting an answer for.
CHATTER = frozenset({"greeting", "farewell", "thanks", "affirm", "deny", "how_are_you",
                     "identity"})


def judge(text: str, route: RouteResult | None, *, mode: str, stop: StopPhrases,
          confidence: float) -> Decision:
    """What words heard over the appliance's speech should do (``route``: the router's view
    of them, None when nothing was understood)."""
    if not text.strip():
        return "ignored"
    if stop.match(text):
        return "stop"
    if route is None or route.route != "template" or route.confidence < confidence:
        return "ignored"
    if route.intent == "stop":
        return "stop"
    if mode == "always" and route.intent not in CHATTER:
        return "answer"
    return "ignored"
