"""Reminders and timers: stored durably (:class:`ReminderBook`), asked for by voice
(:class:`ReminderSkill`), and said aloud when due.

A due reminder is announced, said once more if not acknowledged within ``repeat_after``, and
kept until acknowledged ("okay", "thanks", "got it"); unacknowledged ones are announced again
at the next start. Acknowledging a repeating reminder moves it to its next occurrence.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from .errors import SkillError
from .phrasing import count, join, say_day, say_rule, say_when, sentence_case
from .timeparse import TimeError, When, check_ahead, find_when, local, next_occurrence, normalize, without
from .wording import best_matches, is_no, is_yes, original_case, second_person, strip_edges


@dataclass(frozen=True)
class Reminder:
    id: int
    text: str  # in the user's words: "call my sister"
    due: datetime
    rule: str | None = None
    announced: int = 0
    last_announced: datetime | None = None

    def spoken(self) -> str:
        return second_person(self.text)

    def when(self, now: datetime) -> str:
        due = self.due.astimezone(now.tzinfo)
        return say_rule(self.rule, due) if self.rule else say_when(due, now)


def _reminder(row: sqlite3.Row) -> Reminder:
    last = row["last_announced"]
    return Reminder(row["id"], row["text"], datetime.fromisoformat(row["due"]), row["rule"], row["announced"],
                    datetime.fromisoformat(last) if last else None)


class ReminderBook:
    """The reminders table: every change is one committed statement, so none is half-done."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def add(self, text: str, due: datetime, now: datetime, rule: str | None = None) -> Reminder:
        if not text.strip():
            raise SkillError("a reminder needs something to remind you of")
        cur = self.db.execute("INSERT INTO reminders (text, due, rule, created) VALUES (?, ?, ?, ?)",
                              (text.strip(), due.isoformat(), rule, now.isoformat()))
        return self.get(cur.lastrowid)

    def get(self, reminder_id: int) -> Reminder:
        row = self.db.execute("SELECT * FROM reminders WHERE id = ? AND finished IS NULL", (reminder_id,)).fetchone()
        if row is None:
            raise SkillError(f"there is no open reminder number {reminder_id}; "
                             "'companion reminders list' shows the numbers")
        return _reminder(row)

    def active(self) -> list[Reminder]:
        rows = self.db.execute("SELECT * FROM reminders WHERE finished IS NULL ORDER BY due, id")
        return [_reminder(r) for r in rows]

    def reschedule(self, reminder_id: int, due: datetime) -> Reminder:
        self.db.execute("UPDATE reminders SET due = ?, announced = 0, last_announced = NULL WHERE id = ?",
                        (due.isoformat(), reminder_id))
        return self.get(reminder_id)

    def cancel(self, reminder_id: int, now: datetime) -> Reminder:
        reminder = self.get(reminder_id)
        self.db.execute("UPDATE reminders SET finished = ?, cancelled = 1 WHERE id = ?", (now.isoformat(), reminder_id))
        return reminder

    def acknowledge(self, reminder: Reminder, now: datetime) -> None:
        """Done with this occurrence: a one-off is finished, a repeating one moves on."""
        if reminder.rule:
            self.reschedule(reminder.id, next_occurrence(reminder.rule, reminder.due.astimezone(now.tzinfo), now))
        else:
            self.db.execute("UPDATE reminders SET finished = ? WHERE id = ?", (now.isoformat(), reminder.id))

    def mark_announced(self, reminder: Reminder, now: datetime, times: int | None = None) -> None:
        self.db.execute("UPDATE reminders SET announced = ?, last_announced = ? WHERE id = ?",
                        (reminder.announced + 1 if times is None else times, now.isoformat(), reminder.id))

    def overdue(self, now: datetime) -> list[Reminder]:
        return [r for r in self.active() if r.due <= now]


_ADD = re.compile(r"\bremind me\b|\bset (?:a|an|the) (?:reminder|alarm)\b|\btimer\b|\balarm\b")
_LIST = re.compile(r"\b(?:what|which|list|any|tell me|read)\b.*\b(?:reminders|timers)\b|"
                   r"\bdo i have any (?:reminders|timers)\b|\bwhat (?:are|were) my reminders\b")
_CANCEL = re.compile(r"\b(?:cancel|delete|remove|forget|clear|stop|turn off|never mind)\b.*\b(?:reminders?|timers?|alarms?)\b")
_ALL = re.compile(r"\ball\b|\bevery\b")
_ACK = re.compile(r"^(?:ok|okay|thanks|thank you|got it|done|will do|i did|i know|alright|all right|sure|yes|yeah|"
                  r"on it|i'm on it|noted)\b")
_SNOOZE = re.compile(r"\b(?:snooze|later|again in|remind me again)\b")
_LEAD = re.compile(r"^(?:(?:hey |ok |okay )?samantha,? )?(?:please |can you |could you |would you |will you )?"
                   r"(?:(?:also )?remind me(?: to| that| about| of)?|set (?:a|an|the) (?:reminder|alarm)(?: to| for)?)\s*")
_TIMER = re.compile(r"\b(\d+)[\s-]*(second|minute|hour)s?\b")


def reminder_request(text: str, now: datetime) -> tuple[str, When]:
    """What to be reminded of, in the user's words and spelling, and when: "remind me to call
    Amy at 5" -> ("call Amy", at 5 pm); "set a timer for 10 minutes" -> ("my 10 minute timer is done", +10 min)."""
    said = normalize(text)
    check_ahead(said)
    when = find_when(said, now)
    if timer := _TIMER.search(said) if "timer" in said else None:
        if not when.offset:
            when = find_when(f"in {timer[1]} {timer[2]}s", now)
        return f"my {timer[1]} {timer[2]} timer is done", when
    return strip_edges(original_case(_LEAD.sub("", without(said, when)), text)), when


class ReminderSkill:
    """Voice requests about reminders. After adding one it reads the time back and listens for
    "yes" / "no, at 5 am" / "cancel it" on the next turn."""

    def __init__(self, book: ReminderBook, tz: tzinfo, repeat_after: timedelta = timedelta(minutes=2)):
        self.book, self.tz, self.repeat_after = book, tz, repeat_after
        self._confirming: int | None = None  # the reminder just read back
        self._asking_time = False  # "no" without a new time: waiting for one
        self._waiting_text: str | None = None  # "remind me to X" without a time
        self._cancel_all_asked = False

    @property
    def in_dialogue(self) -> bool:
        return self._confirming is not None or self._waiting_text is not None or self._cancel_all_asked

    def handle(self, text: str, now: datetime) -> str | None:
        now = local(now, self.tz)
        said = normalize(text)
        if self.in_dialogue:
            answer = self._follow_up(said, text, now)
            if answer is not None:
                return answer
        if (answer := self._acknowledge(said, now)) is not None:
            return answer
        if _LIST.search(said):
            return self.describe(now)
        if _CANCEL.search(said):
            return self._cancel(said, now)
        if _ADD.search(said):
            return self._add(said, text, now)
        return None

    # -- requests ------------------------------------------------------------------------
    def _add(self, said: str, original: str, now: datetime) -> str:
        try:
            task, when = reminder_request(original, now)
        except TimeError as exc:  # nothing is stored on a guess
            return f"{sentence_case(str(exc))}. Say the reminder again with a time still ahead, like 'tomorrow at 5'."
        if not task:
            return "What should I remind you of?"
        if not when:
            self._waiting_text = task
            return f"When should I remind you to {second_person(task)}?"
        return self.schedule(task, when, now)

    def schedule(self, task: str, when: When, now: datetime) -> str:
        """Store the reminder and read its time back (a correction may follow on the next turn)."""
        due = when.resolve(now)
        if due <= now:
            self._waiting_text = task
            return f"{sentence_case(say_when(due, now))} has already passed. When should I remind you?"
        self._waiting_text = None
        reminder = self.book.add(task, due, now, when.rule)
        if when.offset and task.endswith("timer is done"):  # nothing to misunderstand: no read-back
            return f"Timer set. It ends {say_when(due, now)}."
        self._confirming, self._asking_time = reminder.id, False
        return f"I'll remind you to {reminder.spoken()} {self._when_with_start(reminder, now)}. Right?"

    def _when_with_start(self, reminder: Reminder, now: datetime) -> str:
        if not reminder.rule:
            return reminder.when(now)
        return f"{reminder.when(now)}, starting {say_day(reminder.due.astimezone(now.tzinfo), now)}"

    def _follow_up(self, said: str, original: str, now: datetime) -> str | None:
        if self._cancel_all_asked:
            self._cancel_all_asked = False
            if is_yes(said):
                cancelled = [self.book.cancel(r.id, now) for r in self.book.active()]
                return f"Done. I cancelled {count(len(cancelled), 'reminder')}."
            if is_no(said):
                return "All right, I kept them."
            return None
        if self._waiting_text is not None:
            try:
                check_ahead(said)
            except TimeError as exc:  # still waiting for a time that can be
                return f"{sentence_case(str(exc))}. When should I remind you to {second_person(self._waiting_text)}?"
            when = find_when(said, now, bare_hour=True)
            task, self._waiting_text = self._waiting_text, None
            if when:
                return self.schedule(task, when, now)
            if is_no(said) or re.search(r"\b(?:never mind|forget it|cancel)\b", said):
                return "Okay, no reminder."
            return None
        reminder_id = self._confirming
        if re.search(r"\b(?:cancel|delete|forget|never mind)\b(?: (?:it|that|the reminder))?[.!]*$", said):
            self._confirming = None
            return f"Cancelled. I won't remind you to {self.book.cancel(reminder_id, now).spoken()}."
        when = find_when(said, now, bare_hour=self._asking_time or is_no(said))
        if when and (self._asking_time or is_no(said) or re.match(r"^(?:make it|change it to|i said|i meant)\b", said)):
            reminder = self.book.get(reminder_id)
            due = self._corrected(reminder, when, now)
            if due <= now:
                return f"{sentence_case(say_when(due, now))} has already passed. When should it be?"
            reminder = self.book.reschedule(reminder_id, due)
            self._asking_time = False
            return f"I'll remind you to {reminder.spoken()} {reminder.when(now)}. Right?"
        if is_no(said):
            self._asking_time = True
            return "When should it be?"
        self._confirming, self._asking_time = None, False
        if is_yes(said):
            return "Good, it's set."
        return None  # something else entirely: the reminder stays as read back

    @staticmethod
    def _corrected(reminder: Reminder, when: When, now: datetime) -> datetime:
        """A correction keeps what it does not change: "no, in the morning" keeps the day and
        the hour, "no, at 7" keeps the day and the half of the day that was read back."""
        if when.offset or when.rule:
            return when.resolve(now)
        old = reminder.due.astimezone(now.tzinfo)
        clock = when.clock or old.time()
        if when.clock is None or when.guessed_half and not when.part_of_day:
            pm = old.hour >= 12 if when.part_of_day is None else when.part_of_day != "morning"
            clock = clock.replace(hour=clock.hour % 12 + (12 if pm else 0))
        due = datetime.combine(when.day or old.date(), clock).replace(tzinfo=now.tzinfo)
        return due + timedelta(days=1) if due <= now and when.day is None else due

    def _cancel(self, said: str, now: datetime) -> str:
        active = self.book.active()
        if not active:
            return "You have no reminders to cancel."
        if _ALL.search(said) and len(active) > 1:
            self._cancel_all_asked = True
            return f"Cancel all {len(active)} reminders? Say yes to cancel them."
        target = self.target(said, active)
        return target if isinstance(target, str) else self.cancel(target, now)

    def cancel(self, reminder: Reminder, now: datetime) -> str:
        reminder = self.book.cancel(reminder.id, now)
        if self._confirming == reminder.id:
            self._confirming = None
        return f"Cancelled the reminder to {reminder.spoken()}."

    @staticmethod
    def target(phrase: str, active: list[Reminder]) -> Reminder | str:
        """The reminder ``phrase`` names (the only one, if it names none), or which to ask about."""
        ids = best_matches(phrase, {r.id: r.text for r in active})
        if not ids and len(active) == 1:
            ids = [active[0].id]
        if len(ids) != 1:
            names = [r.spoken() for r in active if not ids or r.id in ids]
            return f"Which one: {join(names, 'or')}?"
        return next(r for r in active if r.id == ids[0])

    def describe(self, now: datetime) -> str:
        active = self.book.active()
        if not active:
            return "You have no reminders."
        overdue = [r for r in active if r.due <= now]
        upcoming = [r for r in active if r.due > now]
        parts = []
        if upcoming:
            parts.append(f"You have {count(len(upcoming), 'reminder')}: "
                         + join([f"{r.spoken()} {r.when(now)}" for r in upcoming]) + ".")
        if overdue:
            parts.append("Still waiting for you: "
                         + join([f"{r.spoken()}, due {say_when(r.due.astimezone(now.tzinfo), now)}" for r in overdue]) + ".")
        return " ".join(parts)

    def _acknowledge(self, said: str, now: datetime) -> str | None:
        """"Okay" / "snooze" right after an announcement settles the announced reminders."""
        announced = [r for r in self.book.overdue(now) if r.announced]
        if not announced:
            return None
        if _SNOOZE.search(said):
            when = find_when(said, now)
            due = when.resolve(now) if when else now + timedelta(minutes=10)
            for r in announced:
                self.book.reschedule(r.id, due)
            return f"Okay, I'll remind you again {say_when(due, now)}."
        if not _ACK.match(said):
            return None
        for r in announced:
            self.book.acknowledge(r, now)
        return "Good."

    # -- announcing ------------------------------------------------------------------------
    def due_announcements(self, now: datetime) -> list[str]:
        """What to say now: reminders that just came due, and ones said once and not acknowledged
        for ``repeat_after``. Each is said at most twice per session."""
        now = local(now, self.tz)
        out = []
        for r in self.book.overdue(now):
            if r.announced == 0:
                out.append(f"Reminder: {r.spoken()}.")
            elif r.announced == 1 and r.last_announced and now - r.last_announced >= self.repeat_after:
                out.append(f"Just reminding you again: {r.spoken()}.")
            else:
                continue
            self.book.mark_announced(r, now)
        return out

    def start_announcements(self, now: datetime) -> list[str]:
        """At start-up: everything that came due while she was off (or was never acknowledged),
        said once, then treated as announced once so it may be repeated."""
        now = local(now, self.tz)
        overdue = self.book.overdue(now)
        if not overdue:
            return []
        for r in overdue:
            self.book.mark_announced(r, now, times=1)
        items = [f"{r.spoken()}, due {say_when(r.due.astimezone(now.tzinfo), now)}" for r in overdue]
        return [f"While I was away, {count(len(overdue), 'reminder')} came due: {join(items)}."]
