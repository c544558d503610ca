"""Honest about what she is: "are you human?" and "do you love me?" get the persona's own
answers, word for word, because a 135M model answers them wrong ("I'm actually a human
being", "I'm Sarah Thompson"). Everything else about her is left to the persona's prompt."""

from __future__ import annotations

import re
from datetime import datetime

from .persona import Persona

_THING = r"(?:real|human|(?:a |an )?(?:real )?(?:human(?: being)?|person|robot|machine|computer|program|bot|chat ?bot|ai|a\.i\.|artificial intelligence)|alive|conscious|sentient)"
_IDENTITY = re.compile(
    rf"\b(?:are you|you are|you're|r u)\s+(?:really |actually |just |even )?{_THING}\b"
    rf"|\bam i (?:talking|speaking|chatting) (?:to|with)\s+(?:a |an )?(?:real )?(?:person|human|machine|computer|robot|bot|ai)\b"
    r"|\bwhat (?:exactly |really )?are you\s*[?.!]*$|\bis (?:this|there) a (?:real )?(?:person|human)\b", re.I)
_NAME = re.compile(r"\bwhat(?:'s| is) your name\b|\bwho are you\b|\bwho am i (?:talking|speaking) (?:to|with)\b", re.I)
_LOVE = re.compile(r"\b(?:do|could|can|would) you (?:ever )?(?:love|like|care about|care for) me\b"
                   r"|\bare you in love with me\b|\bwill you marry me\b|\bdo you have feelings for me\b", re.I)


class Honesty:
    """A skill (``contracts.Skill``): a complete answer for questions about what she is."""

    def __init__(self, persona: Persona):
        self.persona = persona

    def handle(self, text: str, now: datetime) -> str | None:
        if _LOVE.search(text):
            return self.persona.love
        if _IDENTITY.search(text):
            return self.persona.identity
        if _NAME.search(text):
            return f"I'm {self.persona.name}. {self.persona.identity}"
        return None
