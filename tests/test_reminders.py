"""Reminders by voice and CLI with a controllable clock: read-back and corrections,
cancelling, listing, due announcements (said, repeated once, kept until acknowledged),
and a restart with reminders that came due while she was off."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from companion.ops.cli import main
from companion.ops.config import Config, SkillsConfig
from companion.skills import build_skills
from companion.skills.clock import ManualClock
from companion.skills.reminders import ReminderBook, ReminderSkill
from companion.skills.store import connect

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def clock():
    return ManualClock(datetime(2026, 5, 13, 14, 0, tzinfo=BERLIN))  # Wednesday, 2 pm


def skills(clock):
    """A fresh start on the same data directory (what a restart does)."""
    return build_skills(Config(skills=SkillsConfig(timezone="Europe/Berlin", reminder_repeat_s=120)), clock=clock)


def say(router, clock, text):
    return router.handle(text, clock())


def test_read_back_then_yes(clock):
    s = skills(clock)
    assert say(s, clock, "Remind me to call my sister tomorrow at six.") == \
        "I'll remind you to call your sister tomorrow, Thursday, at 6 pm. Right?"
    assert say(s, clock, "Yes.") == "Good, it's set."
    [r] = ReminderBook(connect()).active()
    assert (r.text, r.due) == ("call my sister", datetime(2026, 5, 14, 18, 0, tzinfo=BERLIN))


def test_ambiguous_hour_is_corrected_by_saying_the_other_half(clock):
    s = skills(clock)
    assert "today at 5 pm. Right?" in say(s, clock, "Remind me at 5 to call Mom.")
    assert say(s, clock, "No, in the morning.") == "I'll remind you to call Mom tomorrow, Thursday, at 5 am. Right?"
    assert say(s, clock, "Right.") == "Good, it's set."
    [r] = ReminderBook(connect()).active()
    assert r.due == datetime(2026, 5, 14, 5, 0, tzinfo=BERLIN)


def test_no_without_a_time_asks_for_one(clock):
    s = skills(clock)
    say(s, clock, "In twenty minutes remind me to take the bread out.")
    assert say(s, clock, "No.") == "When should it be?"
    assert say(s, clock, "In half an hour.") == \
        "I'll remind you to take the bread out in 30 minutes, at 2:30 pm. Right?"


def test_a_missing_time_is_asked_for_and_the_task_kept(clock):
    s = skills(clock)
    assert say(s, clock, "Remind me to buy milk.") == "When should I remind you to buy milk?"
    assert say(s, clock, "At 7.") == "I'll remind you to buy milk today at 7 pm. Right?"


def test_cancel_by_words_and_cancel_all_asks_first(clock):
    s = skills(clock)
    for request in ("In twenty minutes remind me to take the bread out.", "Every Sunday at 10 remind me to water the plants.",
                    "Remind me to call my sister tomorrow at six."):
        say(s, clock, request)
        say(s, clock, "Yes.")
    assert say(s, clock, "Cancel the bread reminder.") == "Cancelled the reminder to take the bread out."
    listing = say(s, clock, "What are my reminders?")
    assert listing == ("You have 2 reminders: call your sister tomorrow, Thursday, at 6 pm and "
                       "water the plants every Sunday at 10 am.")
    assert say(s, clock, "Cancel all my reminders.") == "Cancel all 2 reminders? Say yes to cancel them."
    assert say(s, clock, "No.") == "All right, I kept them."
    assert len(ReminderBook(connect()).active()) == 2
    say(s, clock, "Cancel all my reminders.")
    assert say(s, clock, "Yes.") == "Done. I cancelled 2 reminders."
    assert say(s, clock, "What are my reminders?") == "You have no reminders."


def test_cancel_it_right_after_the_read_back(clock):
    s = skills(clock)
    say(s, clock, "Remind me to stretch at 4.")
    assert say(s, clock, "Cancel it.") == "Cancelled. I won't remind you to stretch."
    assert ReminderBook(connect()).active() == []


def test_due_reminder_is_said_repeated_once_and_kept_until_acknowledged(clock):
    s = skills(clock)
    say(s, clock, "Set a timer for 10 minutes.")
    assert s.due_announcements() == []
    clock.advance(minutes=10)
    assert s.due_announcements() == ["Reminder: your 10 minute timer is done."]
    assert s.due_announcements() == []  # not again right away
    clock.advance(minutes=2)
    assert s.due_announcements() == ["Just reminding you again: your 10 minute timer is done."]
    clock.advance(minutes=30)
    assert s.due_announcements() == []  # twice is enough; it stays open
    assert "Still waiting for you: your 10 minute timer is done" in say(s, clock, "What are my reminders?")
    assert say(s, clock, "Okay, thanks.") == "Good."
    assert ReminderBook(connect()).active() == []


def test_snooze_after_an_announcement(clock):
    s = skills(clock)
    say(s, clock, "In 5 minutes remind me to check the oven.")
    say(s, clock, "Yes.")
    clock.advance(minutes=5)
    assert s.due_announcements() == ["Reminder: check the oven."]
    assert say(s, clock, "Remind me again in 10 minutes.") == "Okay, I'll remind you again in 10 minutes, at 2:15 pm."
    clock.advance(minutes=10)
    assert s.due_announcements() == ["Reminder: check the oven."]


def test_acknowledging_a_repeating_reminder_moves_it_to_the_next_week(clock):
    s = skills(clock)
    say(s, clock, "Every Sunday at 10 remind me to water the plants.")
    say(s, clock, "Yes.")
    clock.now = datetime(2026, 5, 17, 10, 0, 30, tzinfo=BERLIN)
    assert s.due_announcements() == ["Reminder: water the plants."]
    say(s, clock, "Got it.")
    [r] = ReminderBook(connect()).active()
    assert r.due == datetime(2026, 5, 24, 10, 0, tzinfo=BERLIN)


def test_restart_announces_what_came_due_while_off(clock):
    s = skills(clock)
    say(s, clock, "Remind me to call my sister tomorrow at six.")
    say(s, clock, "Yes.")
    say(s, clock, "Remind me to pay rent on Friday at 9 am.")
    say(s, clock, "Yes.")
    del s  # she is switched off
    clock.now = datetime(2026, 5, 15, 8, 0, tzinfo=BERLIN)  # Friday morning: one came due yesterday
    restarted = skills(clock)
    assert restarted.start_announcements() == [
        "While I was away, 1 reminder came due: call your sister, due yesterday at 6 pm."]
    assert restarted.due_announcements() == []  # already said at start
    clock.advance(minutes=2)
    assert restarted.due_announcements() == ["Just reminding you again: call your sister."]
    clock.advance(hours=1)
    assert restarted.due_announcements() == ["Reminder: pay rent."]


def test_reminder_skill_leaves_other_requests_alone(clock):
    skill = ReminderSkill(ReminderBook(connect()), BERLIN)
    for text in ("What's the weather like?", "Thanks!", "I need to call my sister."):
        assert skill.handle(text, clock()) is None


def test_cli_add_list_cancel(capsys):
    assert main(["reminders", "add", "call", "Amy", "tomorrow", "at", "6", "pm"]) == 0
    assert "call Amy" in capsys.readouterr().out
    assert main(["reminders", "list"]) == 0
    out = capsys.readouterr().out
    assert "call Amy" in out and "18:00" in out
    reminder_id = int(out.split()[0])
    assert main(["reminders", "cancel", str(reminder_id)]) == 0
    assert main(["reminders", "list"]) == 0
    assert "no reminders" in capsys.readouterr().out
    assert main(["reminders", "cancel", str(reminder_id)]) == 1
    assert "no open reminder number" in capsys.readouterr().err
    assert main(["reminders", "add", "call", "Amy"]) == 1
    assert "say what and when" in capsys.readouterr().err


@pytest.mark.parametrize("said, answer", [
    ("Remind me to call Amy yesterday at 5.", "“yesterday” is in the past"),
    ("Remind me to call Amy in -3 minutes.", "“in -3 minutes” is not a time ahead"),
    ("Remind me to call Amy on February 30 at 5 pm.", "there is no February 30"),
    ("Remind me to call Amy at 25:00.", "I didn't understand “at 25:00” as a time of day"),
    ("Remind me to call Amy every blursday.", "I didn't understand how often “every blursday” is"),
])
def test_a_past_impossible_or_unknown_time_is_said_back_and_nothing_stored(clock, said, answer):
    s = skills(clock)
    reply = say(s, clock, said)
    assert reply.lower().startswith(answer.lower()) and "again" in reply
    assert say(s, clock, "Yes.") != "Good, it's set."
    assert ReminderBook(connect()).active() == []


def test_a_past_time_as_the_answer_to_when_is_asked_again(clock):
    s = skills(clock)
    assert say(s, clock, "Remind me to water the plants.") == "When should I remind you to water the plants?"
    assert say(s, clock, "Yesterday at 5.").startswith("“yesterday” is in the past")
    assert ReminderBook(connect()).active() == []
    assert say(s, clock, "Tomorrow at 9 am.").startswith("I'll remind you to water the plants tomorrow")


@pytest.mark.parametrize("words, message", [
    ("call Amy yesterday at 5", "is in the past"), ("call Amy at 25:00", "as a time of day"),
    ("call Amy on feb 30", "there is no February 30")])
def test_cli_refuses_a_time_that_cannot_be(capsys, words, message):
    assert main(["reminders", "add", *words.split()]) == 1
    assert message in capsys.readouterr().err
    assert ReminderBook(connect()).active() == []
