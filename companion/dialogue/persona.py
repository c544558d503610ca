"""Personas from ``prompts/``: who she is, kept in readable files so anyone can edit her.

A persona is Markdown whose TOML front matter (between ``+++`` lines) holds ``name``,
``voice`` (a voice name from ``voices/``), ``style``, ``[[examples]]`` (``user``/``assistant`` pairs),
``reminder`` (placed last in the system prompt, to keep her in character), ``greeting``,
``apology``, ``fallback`` (said instead of a degenerate reply), and the honest answers
``identity`` ("are you human?") and ``love`` ("do you love me?"), which are said as written
because a small model gets them wrong; the body is the core description. ``NAME.small.md`` beside
it is the same persona written for a small model (short, one or two examples). Character Card V2/V3 JSON files (the format
SillyTavern and others share) load too, from ``prompts/NAME.json`` or a path.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

from ..ops.config import PROJECT_ROOT

PROMPTS_DIR = PROJECT_ROOT / "prompts"
_KEYS = {"name", "voice", "description", "style", "examples", "reminder", "greeting", "apology", "fallback",
         "identity", "love"}
SMALL = ".small"  # prompts/NAME.small.md: the persona for a small model


class PersonaError(RuntimeError):
    """The persona file is missing or malformed; the message names it."""


@dataclass(frozen=True)
class Example:
    user: str
    assistant: str


@dataclass(frozen=True)
class Persona:
    name: str
    description: str
    voice: str | None = None
    style: str = ""
    examples: tuple[Example, ...] = ()
    reminder: str = ""
    greeting: str | None = None
    apology: str = "Sorry, I lost my train of thought for a moment. Could you say that again?"
    fallback: str = "Hmm, I'm not sure what to say to that. Could you tell me a bit more?"
    identity: str = ("I'm an AI, a voice on your computer, not a person. But I'm really here to listen "
                     "and talk with you.")
    love: str = ("I'm an AI, so I can't love you the way a person can. But I care about our talks, "
                 "and I'm always glad to hear from you.")
    compact: bool = False  # written for a small model (NAME.small.md): it gets a follow-up's context inline

    @property
    def system_prompt(self) -> str:
        """Description, style, then example exchanges; the reminder is added by the
        conversation after memory, so it stays nearest the turns."""
        parts = [self.description, self.style]
        if self.examples:
            shots = "\n\n".join(f"User: {e.user}\n{self.name}: {e.assistant}" for e in self.examples)
            parts.append(f"Examples of how you talk:\n\n{shots}")
        return "\n\n".join(p for p in parts if p)


def available(prompts_dir: Path = PROMPTS_DIR) -> list[str]:
    names = {p.stem for p in prompts_dir.glob("*.md")} | {p.stem for p in prompts_dir.glob("*.json")}
    return sorted(n for n in names if not n.endswith(SMALL))


def load_persona(name: str, prompts_dir: Path = PROMPTS_DIR, small: bool = False) -> Persona:
    """``name`` is a persona in ``prompts_dir`` (``samantha``) or a path to a .md or .json file.
    ``small``: its version for a small model (``NAME.small.md``), when there is one."""
    if name.endswith((".md", ".json")):
        path = Path(name)
    else:
        candidates = [prompts_dir / f"{name}.md", prompts_dir / f"{name}.json"]
        path = next((p for p in ([prompts_dir / f"{name}{SMALL}.md"] if small else []) + candidates if p.is_file()),
                    candidates[0])
    if not path.is_file():
        raise PersonaError(f"persona {name!r} not found at {path}; available: {', '.join(available(prompts_dir)) or 'none'}")
    text = path.read_text(encoding="utf-8")
    persona = from_card(text, path) if path.suffix == ".json" else _from_markdown(text, path)
    return replace(persona, compact=True) if path.name.endswith(f"{SMALL}.md") else persona


def _from_markdown(text: str, path: Path) -> Persona:
    meta: dict = {}
    if text.startswith("+++"):
        parts = text.split("+++", 2)
        if len(parts) < 3:
            raise PersonaError(f"{path}: front matter must be closed by a second '+++' line")
        _, front, text = parts
        try:
            meta = tomllib.loads(front)
        except tomllib.TOMLDecodeError as exc:
            raise PersonaError(f"{path}: front matter is not valid TOML ({exc})") from None
    unknown = set(meta) - _KEYS
    if unknown:
        raise PersonaError(f"{path}: unknown front matter keys {sorted(unknown)}; allowed: {', '.join(sorted(_KEYS))}")
    description = "\n\n".join(p for p in (meta.get("description", "").strip(), text.strip()) if p)
    if not description:
        raise PersonaError(f"{path}: the persona has no description (write it below the front matter)")
    try:
        examples = tuple(Example(str(e["user"]).strip(), str(e["assistant"]).strip()) for e in meta.get("examples", []))
    except (KeyError, TypeError):
        raise PersonaError(f"{path}: each [[examples]] entry needs 'user' and 'assistant' strings") from None
    return Persona(name=meta.get("name", path.stem.capitalize()), description=description, voice=meta.get("voice"),
                   style=meta.get("style", "").strip(), examples=examples, reminder=meta.get("reminder", "").strip(),
                   greeting=meta.get("greeting"), apology=meta.get("apology", Persona.apology),
                   **{k: meta[k].strip() for k in ("fallback", "identity", "love") if k in meta})


def from_card(text: str, path: Path | str = "card") -> Persona:
    """A Character Card (V1 flat, V2 ``chara_card_v2`` or V3 ``chara_card_v3``: fields under
    ``data``). ``{{char}}``/``{{user}}`` macros are filled in; ``mes_example`` becomes examples,
    ``post_history_instructions`` the reminder and ``first_mes`` the greeting."""
    try:
        card = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PersonaError(f"{path}: not valid JSON ({exc})") from None
    data = card.get("data", card) if isinstance(card, dict) else None
    if not isinstance(data, dict) or not str(data.get("name", "")).strip():
        raise PersonaError(f"{path}: not a character card (needs a 'name', under 'data' for V2/V3)")
    name = data["name"].strip()

    def fill(value, user: str = "the user") -> str:
        text = value if isinstance(value, str) else ""
        return re.sub(r"\{\{char\}\}", name, re.sub(r"\{\{user\}\}", user, text, flags=re.I), flags=re.I).strip()

    system = fill(data.get("system_prompt"))
    description = "\n\n".join(p for p in (system.replace("{{original}}", ""), fill(data.get("description")),
                                          fill(data.get("scenario"))) if p.strip())
    if not description:
        raise PersonaError(f"{path}: the card has no description")
    personality = fill(data.get("personality"))
    voice = ((data.get("extensions") or {}).get("companion") or {}).get("voice")
    return Persona(name=name, description=description, voice=voice,
                   style=f"{name}'s personality: {personality}" if personality else "",
                   examples=_card_examples(fill(data.get("mes_example"), "User"), name),
                   reminder=fill(data.get("post_history_instructions")), greeting=fill(data.get("first_mes")) or None)


def _card_examples(text: str, name: str) -> tuple[Example, ...]:
    """``<START>`` blocks of ``User: …`` / ``Name: …`` lines, paired in order."""
    out = []
    for block in re.split(r"<START>", text, flags=re.I):
        lines = re.findall(rf"^(User|{re.escape(name)}):\s*(.+)$", block, flags=re.M)
        user = None
        for who, said in lines:
            if who == "User":
                user = said.strip()
            elif user is not None:
                out.append(Example(user, said.strip()))
                user = None
    return tuple(out)
