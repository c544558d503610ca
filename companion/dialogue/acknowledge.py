"""A short spoken acknowledgment ("Mm,", "Hmm,", "Oh,") played from the opener cache when the
reply's first piece is not ready to play, so a slow voice (Kokoro: ~0.4-0.7 s for a first
clause on two cores) still answers at once and the reply's own words follow with a short gap.

Only when it fits: never before a reply that already opens with an interjection or a
greeting, never when the first piece plays at once anyway (cached, or made ahead), never the
same one twice in a row. When the reply's first words are not even written yet as the turn
ends, it is chosen from the user's words instead, and a reply that then opens with a sound
of its own drops that sound. It is heard, not said: it stays out of the reply's text and the
history, so the model never learns to start with it."""

from __future__ import annotations

import re

from ..tts.chunking import INTERJECTIONS

ACKNOWLEDGMENTS = ("Mm,", "Hmm,", "Oh,")
# a reply opening with one of these needs no acknowledgment (it would stack two): the interjections
# the chunker releases on their own, and the other ways a reply opens with a sound or a greeting
_OPENS_ALREADY = re.compile(
    r"^\s*(" + "|".join(map(re.escape, INTERJECTIONS)) + r"|aww|hmm+|mm+|um+|uh|yep|nope|"
    r"good (morning|afternoon|evening|night)|goodbye|bye|thanks|thank you|welcome|absolutely|great|exactly)\b", re.I)
_SYMPATHY = re.compile(r"\b(sorry|sad|hard|tough|awful|terrible|rough|worried|tired|sick|hurt|lost)\b", re.I)
_PONDER = re.compile(r"^\s*(i think|maybe|perhaps|how about|let me|it depends|that depends|what|why|how|which|"
                     r"do you|did you|have you|are you|is it|could|would)\b", re.I)


_GREETED = re.compile(r"^\s*(hi|hello|hey|good (morning|afternoon|evening))\b", re.I)
_ASKED = re.compile(r"^\s*(what|why|how|which|who|where|when|do|does|did|can|could|would|will|should|is|are|"
                    r"have|has|tell me)\b", re.I)
# a first piece that is only a sound like the acknowledgment ("Oh,", "Hmm."): after one, it would stack
_LONE_SOUND = re.compile(r"^\s*(oh|ah|aw|aww|hmm+|mm+|um+|uh)[,.!]?\s*$", re.I)


def _other_than(order: tuple[str, str], last: str | None) -> str:
    return next(a for a in order if a != last)


def acknowledgment_for_words(said: str, last: str | None = None) -> str | None:
    """The acknowledgment to play at once, chosen from what the user said (the reply's first
    words are not known yet): "Oh," to a greeting ("Oh, hi!") or a sad turn, "Hmm," to a
    question, else "Mm,"."""
    if not said.strip():
        return None
    if _GREETED.match(said) or _SYMPATHY.search(said):
        return _other_than(("Oh,", "Mm,"), last)
    if _ASKED.match(said) or said.rstrip().endswith("?"):
        return _other_than(("Hmm,", "Mm,"), last)
    return _other_than(("Mm,", "Hmm,"), last)


def is_lone_sound(piece: str) -> bool:
    """``piece`` is only a sound such as "Oh," (dropped after an acknowledgment, not stacked)."""
    return bool(_LONE_SOUND.match(piece))


def acknowledgment_for(first_piece: str, last: str | None = None) -> str | None:
    """The acknowledgment to play before ``first_piece``, or ``None`` when none fits."""
    if not first_piece.strip() or _OPENS_ALREADY.match(first_piece):
        return None
    if _SYMPATHY.search(first_piece):
        order = ("Oh,", "Mm,")
    elif _PONDER.match(first_piece) or first_piece.rstrip().endswith("?"):
        order = ("Hmm,", "Mm,")
    else:
        order = ("Mm,", "Hmm,")
    return _other_than(order, last)
