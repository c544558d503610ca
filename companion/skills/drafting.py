"""Writing and revising letter text. A capable LLM writes and rewrites the letter; a fixed
template and deterministic edits guarantee a letter with any model (the 135M default cannot
be trusted to), and catch an LLM that fails or answers with something that is not a letter.

A letter is Markdown paragraphs: the greeting, the body paragraphs, and the closing
("With love," + signature) as the last paragraph.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from ..ops.logs import Words

log = logging.getLogger(__name__)

_OBJECT_HER = re.compile(r"\b(?:her|him|them)\b(?=\s*(?:$|[,.!?]|for\b|to\b|about\b|and\b|that\b|on\b|with\b))")
_POSSESSIVE = re.compile(r"\b(?:her|his|their)\b")
_WARM = "I think of you often, and you mean more to me than I can easily say."
_CLOSINGS = {"warm": "With all my love,", "formal": "Kind regards,", "default": "With love,"}


@dataclass(frozen=True)
class Brief:
    """What the letter is for, as the user said it."""

    recipient: str  # "my grandmother"
    purpose: str = ""  # "to thank her for the sweater"
    details: str = ""
    signature: str = ""


def greeting(recipient: str) -> str:
    who = re.sub(r"^(?:my|our|the)\s+", "", recipient.strip(), flags=re.IGNORECASE)
    return f"Dear {' '.join(w[:1].upper() + w[1:] for w in who.split())},"


def to_second_person(text: str) -> str:
    """"thank her for her sweater" -> "thank you for your sweater": the letter speaks to them."""
    return _POSSESSIVE.sub("your", _OBJECT_HER.sub("you", text))


def sentence(text: str) -> str:
    text = text.strip().rstrip(",;:")
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def template_letter(brief: Brief) -> str:
    purpose = to_second_person(brief.purpose.strip())
    if purpose.lower().startswith("to "):
        opening = f"I wanted to write {purpose}"
    elif purpose.lower().startswith("about "):
        opening = f"I wanted to write to you {purpose}"
    elif purpose:
        opening = "I wanted to tell you " + re.sub(r"^(?:that\s+)?", "that ", purpose, count=1)
    else:
        opening = "I wanted to write to you"
    body = [sentence(opening)]
    if brief.details:
        body.append(sentence(to_second_person(brief.details)))
    body.append("I hope you are well, and I look forward to seeing you soon.")
    return join_letter(greeting(brief.recipient), body, closing(_CLOSINGS["default"], brief.signature))


def closing(word: str, signature: str) -> str:
    return f"{word}\n{signature}".strip() if signature else word


def split_letter(text: str) -> tuple[str, list[str], str]:
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    if len(paragraphs) < 3:
        return (paragraphs[0] if paragraphs else ""), paragraphs[1:], ""
    return paragraphs[0], paragraphs[1:-1], paragraphs[-1]


def join_letter(greet: str, body: list[str], close: str) -> str:
    return "\n\n".join(p for p in (greet, *body, close) if p) + "\n"


def replace_last_line(text: str, new: str) -> str:
    greet, body, close = split_letter(text)
    return join_letter(greet, [*body[:-1], sentence(new)], close)


def add_line(text: str, new: str) -> str:
    greet, body, close = split_letter(text)
    return join_letter(greet, [*body, sentence(to_second_person(new))], close)


def remove_last_line(text: str) -> str:
    greet, body, close = split_letter(text)
    return join_letter(greet, body[:-1] if len(body) > 1 else body, close)


def restyle(text: str, style: str) -> str:
    """The deterministic version of "make it warmer / shorter / more formal"."""
    greet, body, close = split_letter(text)
    signature = close.split("\n", 1)[1] if "\n" in close else ""
    if style == "warm":
        if _WARM not in body:
            body = [*body, _WARM]
        close = closing(_CLOSINGS["warm"], signature)
    elif style == "short":
        body = body[:1] if len(body) > 1 else [re.split(r"(?<=[.!?])\s+", body[0])[0]] if body else body
    elif style == "formal":
        body = [p for p in body if p != _WARM]
        close = closing(_CLOSINGS["formal"], signature)
    return join_letter(greet, body, close)


class LetterWriter:
    """Drafts and revises with the LLM when allowed, else (or when it fails) deterministically."""

    def __init__(self, brain=None):
        self.brain = brain  # a companion.llm.client.Brain, or None for template-only

    def draft(self, brief: Brief) -> str:
        ask = (f"Write a short personal letter to {brief.recipient}. Purpose: {brief.purpose or 'staying in touch'}. "
               + (f"Mention: {brief.details}. " if brief.details else "")
               + (f"Sign it: {brief.signature}. " if brief.signature else ""))
        return self._ask(ask, brief.signature) or template_letter(brief)

    def revise(self, text: str, instruction: str, signature: str, style: str | None) -> str:
        asked = self._ask(f"Here is a letter:\n\n{text}\n\nRewrite it: {instruction}.", signature)
        if asked:
            return asked
        return restyle(text, style) if style else text

    def _ask(self, request: str, signature: str) -> str | None:
        if self.brain is None:
            return None
        from ..llm.client import BrainError

        messages = [{"role": "system", "content": "You write warm, plain personal letters. Answer with the letter "
                     "only: a greeting line, two or three short paragraphs, a closing and the signature."},
                    {"role": "user", "content": request}]
        try:
            text = "".join(self.brain.stream(messages)).strip()
        except BrainError as exc:
            log.warning("letter drafting fell back to the template: %s", exc)
            return None
        if looks_like_letter(text, signature):
            return text + "\n"
        log.warning("the model's letter was not usable; using the template (%r)", Words(text[:80]))
        return None


def looks_like_letter(text: str, signature: str) -> bool:
    """A usable draft: a greeting, some body, a plausible length, and the signature if one was given."""
    greet, body, _ = split_letter(text)
    return (40 <= len(text) <= 4000 and bool(body)
            and bool(re.match(r"^(?:dear|hi|hello|my dear|dearest)\b", greet, re.IGNORECASE))
            and (not signature or signature.lower() in text.lower()))
