"""The skills as OpenAI tools, for an endpoint whose model can call them: their JSON Schema
definitions, the checking of what the model passes, and the calls onto the same skill code
the deterministic layer uses.

The model passes times in words ("tomorrow at 6pm"); they are resolved by our own parser
(:mod:`.timeparse`), never by the model. Anything destructive (cancelling a reminder,
moving or removing an event) is only asked here; it happens on the user's "yes" next turn.
A result is JSON for the ``tool`` message: ``{"reply": ...}`` (what the skill answered, to
be said to the user) or ``{"error": ...}`` (what was wrong with the call, so the model can
fix it or ask), never an exception.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from datetime import datetime

from .calendar import CalendarSkill
from .confirm import Confirmation, Pending
from .errors import SkillError
from .letters import LetterSkill
from .phrasing import say_when
from .reminders import ReminderSkill
from .timeparse import When, check_ahead, find_when, local, normalize
from ..ops.logs import Words

log = logging.getLogger(__name__)

_WHEN = "when, in words as the user said it, e.g. 'tomorrow at 6pm', 'in 20 minutes', 'every Sunday at 10am'"
_WHICH = "words from its title, e.g. 'bread' or 'lunch with Amy'; 'it' means the one last talked about"


def _tool(name: str, description: str, required: tuple[str, ...] = (), **properties) -> dict:
    schema = {"type": "object", "properties": properties, "required": list(required), "additionalProperties": False}
    return {"type": "function", "function": {"name": name, "description": description, "parameters": schema}}


def _text(description: str) -> dict:
    return {"type": "string", "description": description}


DEFINITIONS = [
    _tool("add_reminder", "Remind the user of something at a time (also timers and repeating reminders).",
          ("task", "when"), task=_text("what to remind them of, in their words, e.g. 'call my sister'"), when=_text(_WHEN)),
    _tool("list_reminders", "The user's open reminders."),
    _tool("cancel_reminder", "Cancel one reminder. The user is asked to confirm first.", ("which",),
          which=_text("the reminder: " + _WHICH)),
    _tool("add_event", "Put an event on the user's calendar.", ("title", "when"),
          title=_text("the event, e.g. 'lunch with Amy'"), when=_text(_WHEN)),
    _tool("list_events", "What is on the user's calendar on one day or in the coming week.", ("period",),
          period={"type": "string", "enum": ["day", "week"], "description": "one day, or the next seven days"},
          day=_text("for period 'day': which day, e.g. 'today', 'tomorrow', 'Friday'")),
    _tool("move_event", "Move an event to another time. The user is asked to confirm first.", ("which", "to"),
          which=_text("the event: " + _WHICH), to=_text("the new time: " + _WHEN)),
    _tool("delete_event", "Remove an event from the calendar. The user is asked to confirm first.", ("which",),
          which=_text("the event: " + _WHICH)),
    _tool("start_letter", "Start writing a letter with the user; they are then asked what to say.", ("recipient",),
          recipient=_text("who it is to, e.g. 'my grandmother'"), purpose=_text("what it is for, e.g. 'to thank her for the sweater'")),
]

_TYPES = {"string": str, "integer": int, "number": (int, float), "boolean": bool, "object": dict, "array": list}


class BadCall(ValueError):
    """What is wrong with a tool call, said so that the model can correct it."""


def check(schema: dict, arguments: object) -> None:
    """The checks of JSON Schema that our definitions use: an object, its required and known
    properties, their types and enums, and no empty required strings."""
    if not isinstance(arguments, dict):
        raise BadCall("the arguments must be a JSON object")
    properties, required = schema.get("properties", {}), schema.get("required", [])
    missing = [k for k in required if arguments.get(k) in (None, "")]
    if missing:
        raise BadCall(f"missing {', '.join(missing)}")
    unknown = [k for k in arguments if k not in properties]
    if unknown and schema.get("additionalProperties") is False:
        raise BadCall(f"unknown argument {', '.join(unknown)}; allowed: {', '.join(properties) or 'none'}")
    for key, value in arguments.items():
        spec = properties.get(key, {})
        kind = _TYPES.get(spec.get("type", ""), object)
        if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
            raise BadCall(f"{key} must be a {spec['type']}, not {json.dumps(value)}")
        if "enum" in spec and value not in spec["enum"]:
            raise BadCall(f"{key} must be one of {', '.join(map(str, spec['enum']))}, not {json.dumps(value)}")


class SkillTools:
    """Runs the tool calls of one conversation on the router's skills."""

    definitions = DEFINITIONS

    def __init__(self, skills: list):
        self.reminders = _one(skills, ReminderSkill)
        self.calendar = _one(skills, CalendarSkill)
        self.letters = _one(skills, LetterSkill)
        self.confirmation = _one(skills, Confirmation)
        self._schemas = {d["function"]["name"]: d["function"]["parameters"] for d in self.definitions}

    def call(self, name: str, arguments: str, now: datetime) -> str:
        """The ``tool`` message's content for one call."""
        try:
            if name not in self._schemas:
                raise BadCall(f"there is no tool {name!r}; the tools are {', '.join(self._schemas)}")
            try:
                args = json.loads(arguments or "{}")
            except json.JSONDecodeError as exc:
                raise BadCall(f"the arguments are not valid JSON ({exc.msg})") from None
            check(self._schemas[name], args)
            reply = getattr(self, "_" + name)(args, now)
        except BadCall as exc:
            log.info("tool call %s(%s) refused: %s", name, Words(arguments), Words(exc))
            return json.dumps({"error": f"{name}: {exc}"})
        except (SkillError, ValueError) as exc:  # TimeError is a ValueError: "that repetition never happens"
            return json.dumps({"error": f"{name}: {exc}"})
        except sqlite3.Error as exc:  # locked or full: the database reports the fault itself
            log.warning("tool %s could not use the skills database: %s", name, exc)
            return json.dumps({"error": f"{name}: the reminders database is not available right now"})
        except Exception:  # a fault in a skill must not take the reply down
            log.exception("tool %s(%s) failed", name, Words(arguments))
            return json.dumps({"error": f"{name} failed; tell the user it did not work"})
        log.info("tool %s(%s): %s", name, Words(arguments), Words(reply))
        return json.dumps({"reply": reply})

    # -- one method per tool -------------------------------------------------------------
    def _add_reminder(self, args: dict, now: datetime) -> str:
        now = local(now, self.reminders.tz)
        return self.reminders.schedule(args["task"].strip(), _when(args["when"], now), now)

    def _list_reminders(self, args: dict, now: datetime) -> str:
        return self.reminders.describe(local(now, self.reminders.tz))

    def _cancel_reminder(self, args: dict, now: datetime) -> str:
        active = self.reminders.book.active()
        if not active:
            return "You have no reminders to cancel."
        target = self.reminders.target(args["which"], active)
        if isinstance(target, str):
            return target
        now = local(now, self.reminders.tz)
        return self.confirmation.ask(Pending(
            f"Cancel the reminder to {target.spoken()} {target.when(now)}? Say yes to cancel it.",
            lambda at: self.reminders.cancel(target, local(at, self.reminders.tz)), "All right, I kept it."))

    def _add_event(self, args: dict, now: datetime) -> str:
        now = local(now, self.calendar.tz)
        return self.calendar.put(args["title"].strip(), _when(args["when"], now), now)

    def _list_events(self, args: dict, now: datetime) -> str:
        said = "week" if args["period"] == "week" else normalize(args.get("day") or "today")
        return self.calendar.agenda(said, local(now, self.calendar.tz))

    def _move_event(self, args: dict, now: datetime) -> str:
        now = local(now, self.calendar.tz)
        _when(args["to"], now)  # an unreadable time is the model's to fix, not a question for the user
        plan = self.calendar.plan_move(normalize(args["which"]), normalize(args["to"]), now)
        if isinstance(plan, str):
            return plan
        event, start = plan
        return self.confirmation.ask(Pending(
            f"Move {event.spoken(now)} so it starts {say_when(start, now)}? Say yes to move it.",
            lambda at: self.calendar.move(event, start, local(at, self.calendar.tz)), "All right, I kept it."))

    def _delete_event(self, args: dict, now: datetime) -> str:
        now = local(now, self.calendar.tz)
        event = self.calendar.target(normalize(args["which"]), now)
        return event if isinstance(event, str) else self.calendar.ask_remove(event, now)

    def _start_letter(self, args: dict, now: datetime) -> str:
        return self.letters.begin(args["recipient"].strip(), (args.get("purpose") or "").strip(), now)


def _when(said: str, now: datetime) -> When:
    check_ahead(normalize(said))  # a TimeError: the model hears which words were wrong
    when = find_when(normalize(said), now, bare_hour=True)
    if not when:
        raise BadCall(f"cannot understand the time {said!r}; say it in words like 'tomorrow at 6pm', "
                      "'in 20 minutes' or 'every Sunday at 10am'")
    return when


def _one(skills: list, kind: type):
    found = [s for s in skills if isinstance(s, kind)]
    if len(found) != 1:
        raise ValueError(f"the skills need exactly one {kind.__name__} to offer them as tools, found {len(found)}")
    return found[0]
