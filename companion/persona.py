"""Personas from ``prompts/``: a Markdown file whose optional TOML front matter (between
``+++`` lines) names the persona and its voice; the body is the system prompt."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from .config import PROJECT_ROOT

PROMPTS_DIR = PROJECT_ROOT / "prompts"


class PersonaError(RuntimeError):
    """The persona file is missing or malformed; the message names it."""


@dataclass(frozen=True)
class Persona:
    name: str
    system_prompt: str
    voice: str | None = None
    greeting: str | None = None
    apology: str = "Sorry, I lost my train of thought for a moment. Could you say that again?"


def available(prompts_dir: Path = PROMPTS_DIR) -> list[str]:
    return sorted(p.stem for p in prompts_dir.glob("*.md"))


def load_persona(name: str, prompts_dir: Path = PROMPTS_DIR) -> Persona:
    path = Path(name) if name.endswith(".md") else prompts_dir / f"{name}.md"
    if not path.is_file():
        raise PersonaError(f"persona {name!r} not found at {path}; available: {', '.join(available(prompts_dir)) or 'none'}")
    text = path.read_text(encoding="utf-8")
    meta: dict = {}
    if text.startswith("+++"):
        _, front, body = text.split("+++", 2)
        try:
            meta = tomllib.loads(front)
        except tomllib.TOMLDecodeError as exc:
            raise PersonaError(f"{path}: front matter is not valid TOML ({exc})") from None
        text = body
    body = text.strip()
    if not body:
        raise PersonaError(f"{path}: the persona has no prompt text")
    return Persona(name=meta.get("name", path.stem.capitalize()), system_prompt=body, voice=meta.get("voice"),
                   greeting=meta.get("greeting"), apology=meta.get("apology", Persona.apology))
