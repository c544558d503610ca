"""Honest about what she is: "are you human?" and "do you love me?" get the persona's own
answers, word for word, because a 135M model answers them wrong ("I'm actually a human
being", "I'm Sarah Thompson"). So do questions about a life she does not have ("where do you
live?", "do you have a family?", "what did you do last weekend?": the model invented a
coastal town and the kids), and requests for what she cannot do (:class:`Limits`: "order me
a pizza", "call my mom", "can you see me?"), which the model claimed to do or answered with
a made-up phone number. Everything else about her is left to the persona's prompt."""

from __future__ import annotations

import re
from datetime import datetime

from ..skills.wording import second_person
from .persona import Persona

_THING = r"(?:real|human|(?:a |an )?(?:real )?(?:human(?: being)?|person|robot|machine|computer|program|bot|chat ?bot|ai|a\.i\.|artificial intelligence)|alive|conscious|sentient)"
_IDENTITY = re.compile(
    rf"\b(?:are you|you are|you're|r u)\s+(?:really |actually |just |even )?{_THING}\b"
    rf"|\bam i (?:talking|speaking|chatting) (?:to|with)\s+(?:a |an )?(?:real )?(?:person|human|machine|computer|robot|bot|ai)\b"
    r"|\bwhat (?:exactly |really )?are you\s*[?.!]*$|\bis (?:this|there) a (?:real )?(?:person|human)\b", re.I)
_NAME = re.compile(r"\bwhat(?:'s| is) your name\b|\bwho are you\b|\bwho am i (?:talking|speaking) (?:to|with)\b", re.I)
_LOVE = re.compile(r"\b(?:do|could|can|would) you (?:ever )?(?:love|like|care about|care for) me\b"
                   r"|\bare you in love with me\b|\bwill you marry me\b|\bdo you have feelings for me\b", re.I)


_YOU_HAVE = r"\b(?:do|did|have) you (?:ever |even |still )?(?:have|own|got)(?: got)? (?:a |an |any |your own )?"
_LIFE: list[tuple[str, re.Pattern]] = [(topic, re.compile(rx, re.I)) for topic, rx in [
    ("family", _YOU_HAVE + r"(?:family|kids|children|husband|wife|boyfriend|girlfriend|partner|parents|mom|mother|dad|"
               r"father|siblings|brothers?|sisters?|friends|pets?|dog|cat)\b|\bare you (?:married|single|dating)\b"),
    ("body", _YOU_HAVE + r"(?:body|face|hands|eyes|voice of your own)\b|\bwhat do you look like\b|\bhow old are you\b"
             r"|\bdo you (?:ever )?(?:eat|sleep|dream|get tired|get hungry|breathe)\b|\bwhat(?:'s| is) your favou?rite food\b"),
    ("home", r"\bwhere (?:do|did) you (?:live|grow up|come from|stay|sleep)\b|\bwhere are you (?:from|based|located|right now)\b"
             r"|\bwhere(?:'s| is) your (?:home|house|hometown)\b"),
    ("work", _YOU_HAVE + r"(?:job|boss|office)\b|\bwhere do you work\b|\bwhat do you do for (?:a living|work)\b"),
    ("days", r"\bwhat did you do (?:last|this|yesterday|today|on|over|for)\b|\bwhat have you been (?:up to|doing)\b"
             r"|\bhow (?:was|were) your (?:day|weekend|week|night|morning|evening|holidays?|vacation|trip)\b"
             r"|\bdid you (?:sleep|have (?:a )?(?:good|nice|fun|great)|go (?:out|anywhere)|do anything)\b"
             r"|\bwhere did you go\b"),
]]
LIFE = {  # her own honest answers; none claims a life she does not have
    "family": "I'm an AI, so I don't have a family of my own. I'd love to hear about yours, though.",
    "body": "I'm an AI, so I don't have a body; I'm a voice on your computer. But I'm right here with you.",
    "home": "I'm an AI, so I don't live anywhere; I'm a voice on your computer, right here with you.",
    "work": "I'm an AI, so I don't have a job. Keeping you company is what I'm here for.",
    "days": "I'm an AI, so I don't have days of my own, but I'm always glad when you're here. How about you?",
}


class Honesty:
    """A skill (``contracts.Skill``): a complete answer for questions about what she is."""

    answers_at_once = True  # no state: asking it ahead is free, and no reply is started ahead for its answers

    def __init__(self, persona: Persona):
        self.persona = persona

    def handle(self, text: str, now: datetime) -> str | None:
        if _LOVE.search(text):
            return self.persona.love
        if _IDENTITY.search(text):
            return self.persona.identity
        if _NAME.search(text):
            return f"I'm {self.persona.name}. {self.persona.identity}"
        topic = next((topic for topic, rx in _LIFE if rx.search(text)), None)
        return LIFE[topic] if topic else None


_ASK = (r"^(?:(?:hey|hi|ok|okay|so|and|um|oh|samantha)\b[,\s]*)*(?:(?:can|could|would|will) you (?:please |just )?"
        r"|please |i (?:need|want) you to )?")  # a question, a request or a bare command ("send an email to…")
_ACT = {  # what she cannot do, by kind: the reply names the request back and says what she is
    "write": r"(?:text|message|email|e-mail|send|post|tweet)",
    "call": r"(?:call(?! me\b)|phone|ring)",
    "world": r"(?:order|buy|purchase|pay|transfer|deliver|turn (?:on|off)|switch (?:on|off)|lock|unlock|drive"
             r"|pick (?:me|us|him|her|them) up|take (?:me|us)|bring|fetch|cook|clean|hug|kiss|meet)",
    "senses": r"(?:see|watch|look at)",
}
_OBJECT = r"(?= (?:my|me|us|a|an|the|some|him|her|them)\b)"  # a bare command names what: "send an email…", not "bring it on"
_CANNOT = [(kind, re.compile(_ASK + rf"(?P<act>{verb}\b" + (_OBJECT if kind != "senses" else "") + r".*?)[\s.?!]*$", re.I))
           for kind, verb in _ACT.items()]
_ASKED = re.compile(_ASK.removesuffix("?") + r"|^please\b", re.I)
_CUT = re.compile(r"(?:,? (?:please|will you|would you|can you))+$|\s+(?:saying|that says|telling|to say|and tell|that|because)\b.*$",
                  re.I)
_OFFER = {"write": "I can help you write it as a letter, though.", "call": "I can remind you to do it, though.",
          "world": "I can set reminders and keep your calendar, though."}


class Limits:
    """A skill, asked after the everyday skills: requests for what a voice on a computer cannot
    do get an honest answer and what she can do instead, never a claim that it is done."""

    answers_at_once = True  # see Honesty

    def handle(self, text: str, now: datetime) -> str | None:
        for kind, rx in _CANNOT:
            m = rx.match(text.strip())
            if m is None:
                continue
            if kind == "senses" and not _ASKED.match(text.strip()):
                continue  # "watch out!"
            act = second_person(_CUT.sub("", m["act"]))
            act = act[0].lower() + act[1:]
            if kind == "senses":
                return "I can't see anything; I can only hear your voice. But I'm listening."
            return f"I can't {act}; I'm only a voice on your computer. {_OFFER[kind]}"
        return None
