"""`companion reminders|calendar|letters ...`: the same stores and parsing as the voice
skills, for the keyboard. Errors a user can cause are :class:`SkillError` (printed by the CLI)."""

from __future__ import annotations

from datetime import datetime, timedelta

from ..errors import check_new_file
from ..ops.config import Config
from . import calendar_path, letters_folder
from .calendar import CalendarFile, CalendarSkill, event_request
from .errors import SkillError
from .letters import LetterDesk
from .reminders import ReminderBook, reminder_request
from .store import connect
from .timeparse import user_timezone


def _now(cfg: Config) -> datetime:
    return datetime.now(user_timezone(cfg.skills.timezone))


def reminders(cfg: Config, args) -> int:
    book, now = ReminderBook(connect()), _now(cfg)
    if args.reminders_action == "add":
        task, when = reminder_request(" ".join(args.text), now)
        if not task or not when:
            raise SkillError("say what and when, e.g. companion reminders add call my sister tomorrow at 6 pm")
        due = when.resolve(now)
        if due <= now:
            raise SkillError(f"{due:%a %d %b %H:%M} has already passed; give a time in the future")
        reminder = book.add(task, due, now, when.rule)
        print(f"{reminder.id:4d}  {reminder.due.astimezone(now.tzinfo):%a %d %b %Y %H:%M}  {reminder.text}"
              f"  ({reminder.when(now)})")
    elif args.reminders_action == "cancel":
        print(f"cancelled: {book.cancel(args.id, now).text}")
    else:
        active = book.active()
        for r in active:
            late = "  (due, not acknowledged)" if r.due <= now else ""
            print(f"{r.id:4d}  {r.due.astimezone(now.tzinfo):%a %d %b %Y %H:%M}  {r.text}"
                  f"{'  [' + r.when(now) + ']' if r.rule else ''}{late}")
        if not active:
            print("no reminders")
    return 0


def calendar(cfg: Config, args) -> int:
    tz, now = user_timezone(cfg.skills.timezone), _now(cfg)
    cal = CalendarFile(calendar_path(), tz)
    action = args.calendar_action
    if action == "export":
        print(f"wrote {cal.export_file(check_new_file(args.file, args.force))} events to {args.file}")
    elif action == "import":
        print(f"imported {cal.import_file(args.file)} events from {args.file} into {cal.path}")
    elif action == "add":
        title, when = event_request(" ".join(args.text), now)
        if not title or not (when.day or when.clock or when.part_of_day or when.offset):
            raise SkillError("say what and when, e.g. companion calendar add lunch with Amy on Friday at 1 pm")
        skill = CalendarSkill(cal, tz, timedelta(minutes=cfg.skills.event_minutes))
        event, clash = skill.schedule(title, when, now)
        print(f"added: {event.spoken(now)}")
        for other in clash:
            print(f"overlaps with: {other.spoken(now)}")
    else:
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        events = cal.between(start, start + timedelta(days=args.days))
        for e in events:
            when = f"{e.start.astimezone(tz):%a %d %b %Y}" + ("  all day" if e.all_day else
                                                             f"  {e.start.astimezone(tz):%H:%M}-{e.end.astimezone(tz):%H:%M}")
            print(f"{when}  {e.title}")
        if not events:
            print(f"nothing in the next {args.days} days ({cal.path})")
    return 0


def letters(cfg: Config, args) -> int:
    desk = LetterDesk(connect(), letters_folder(cfg))
    if args.letters_action == "show":
        print(desk.find(args.name).read_text(encoding="utf-8"), end="")
        return 0
    saved = desk.saved()
    for path in saved:
        print(path)
    draft = desk.open_draft()
    if draft is not None:
        print(f"(unfinished draft: a letter to {draft.recipient}; say 'continue my letter')")
    if not saved and draft is None:
        print(f"no letters yet in {desk.folder}")
    return 0


def run_command(cfg: Config, args) -> int:
    return {"reminders": reminders, "calendar": calendar, "letters": letters}[args.command](cfg, args)
