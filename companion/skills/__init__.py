"""Samantha's everyday help: reminders and timers, a calendar (.ics), and letters.

:func:`build_skills` wires them from the config into one :class:`SkillRouter`, which the
conversation asks before the LLM (deterministic, so it works with the 135M model) and the
live loop asks for due reminders between turns. With a capable endpoint the router also
carries a :class:`ToolLoop`: the model may call the same skills as tools for what the rules
did not recognise.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from ..ops.config import Config, data_dir
from .calendar import CalendarFile, CalendarSkill
from .confirm import Confirmation
from .drafting import LetterWriter
from .letters import LetterDesk, LetterSkill
from .reminders import ReminderBook, ReminderSkill
from .router import SkillRouter
from .store import connect
from .timeparse import user_timezone
from .tool_loop import ToolLoop
from .tools import SkillTools


def letters_folder(cfg: Config) -> Path:
    return Path(cfg.skills.letters_dir).expanduser() if cfg.skills.letters_dir else data_dir() / "letters"


def calendar_path() -> Path:
    return data_dir() / "calendar.ics"


def letters_use_llm(cfg: Config) -> bool:
    """'auto': only a model on another endpoint; the embedded 135M one writes nonsense letters."""
    return cfg.skills.letters_llm == "always" or (cfg.skills.letters_llm == "auto" and cfg.llm.base_url != "embedded")


def tools_on(cfg: Config) -> bool:
    """'auto': only a model on another endpoint; the embedded 135M one cannot call tools."""
    return cfg.skills.tools == "on" or (cfg.skills.tools == "auto" and cfg.llm.base_url != "embedded")


def build_skills(cfg: Config, brain=None, clock=None) -> SkillRouter:
    """All skills on the data directory's stores. ``clock`` returns "now" (aware); tests pass
    a controllable one, live use gets the wall clock in the configured time zone."""
    tz = user_timezone(cfg.skills.timezone)
    db = connect()
    writer = LetterWriter(brain if letters_use_llm(cfg) else None)
    skills = [LetterSkill(LetterDesk(db, letters_folder(cfg)), writer),
              ReminderSkill(ReminderBook(db), tz, timedelta(seconds=cfg.skills.reminder_repeat_s)),
              CalendarSkill(CalendarFile(calendar_path(), tz), tz, timedelta(minutes=cfg.skills.event_minutes)),
              Confirmation()]  # what a tool call asked, done on the user's "yes"
    router = SkillRouter(skills, clock or (lambda: datetime.now(tz)))
    router.tools = ToolLoop(SkillTools(skills)) if tools_on(cfg) else None
    return router


def router_of(conversation) -> SkillRouter | None:
    """The skill router a conversation was built with, for the live loop's announcements."""
    return next((s for s in conversation.skills if isinstance(s, SkillRouter)), None)
