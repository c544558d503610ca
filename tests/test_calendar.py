"""The calendar by voice and CLI: adding (with conflicts), agenda, moving "it", removing
after a yes, and .ics files that the icalendar parser reads back exactly."""

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar, Event

from companion.ops.cli import main
from companion.ops.config import Config, SkillsConfig
from companion.skills import build_skills, calendar_path
from companion.skills.calendar import CalendarFile
from companion.skills.clock import ManualClock

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def clock():
    return ManualClock(datetime(2026, 5, 13, 14, 0, tzinfo=BERLIN))  # Wednesday, 2 pm


@pytest.fixture
def say(clock):
    router = build_skills(Config(skills=SkillsConfig(timezone="Europe/Berlin")), clock=clock)
    return lambda text: router.handle(text, clock())


def parsed_events():
    """The calendar file as any other app would read it."""
    cal = Calendar.from_ical(calendar_path().read_bytes())
    return {str(e["SUMMARY"]): e for e in cal.walk("VEVENT")}


def foreign_event(uid: str, summary: str, start: datetime, length: timedelta, **extra) -> Event:
    """An event as another calendar app writes it (any extra properties, e.g. an RRULE)."""
    ev = Event()
    ev.add("uid", uid)
    ev.add("summary", summary)
    ev.add("dtstart", start)
    ev.add("dtend", start + length)
    for key, value in extra.items():
        ev.add(key.replace("_", "-"), value)
    return ev


def foreign_file(path, *events: Event):
    other = Calendar()
    other.add("prodid", "-//another app//EN")
    other.add("version", "2.0")
    for ev in events:
        other.add_component(ev)
    path.write_bytes(other.to_ical())
    return path


def test_add_with_conflict_move_it_and_agenda(say):
    assert say("Put lunch with Amy on Friday at one.") == "I've put lunch with Amy on Friday at 1 pm on your calendar."
    assert say("Add the dentist to my calendar on Friday at 1:30 pm.") == (
        "I've put the dentist on Friday at 1:30 pm on your calendar. "
        "Note: that overlaps with lunch with Amy on Friday at 1 pm.")
    assert say("Move it to two.") == "Moved the dentist on Friday at 2 pm."
    assert say("What's on Friday?") == "On Friday you have 2 events: lunch with Amy at 1 pm and the dentist at 2 pm."
    assert say("What's on tomorrow?") == "Nothing on your calendar tomorrow."
    assert say("What's my week like?") == ("In the next seven days you have 2 events: lunch with Amy on Friday at 1 pm "
                                           "and the dentist on Friday at 2 pm.")
    events = parsed_events()
    assert events["the dentist"].decoded("DTSTART") == datetime(2026, 5, 15, 12, 0, tzinfo=timezone.utc)
    assert events["the dentist"].decoded("DTEND") - events["the dentist"].decoded("DTSTART") == timedelta(hours=1)


def test_move_by_name_to_another_day_keeps_the_time(say):
    say("Put lunch with Amy on Friday at one.")
    assert say("Move lunch with Amy to Monday.") == "Moved lunch with Amy on Monday at 1 pm."


def test_remove_asks_first(say):
    say("Put lunch with Amy on Friday at one.")
    assert say("Cancel lunch with Amy.") == "Remove lunch with Amy on Friday at 1 pm from your calendar? Say yes to remove it."
    assert say("No.") == "All right, I kept it."
    assert "lunch with Amy" in parsed_events()
    say("Cancel lunch with Amy.")
    assert say("Yes.") == "Removed lunch with Amy."
    assert parsed_events() == {}


def test_a_day_without_time_is_an_all_day_event(say):
    assert say("Schedule the school trip tomorrow.") == "I've put the school trip tomorrow, Thursday on your calendar."
    event = parsed_events()["the school trip"]
    assert event.decoded("DTSTART") == datetime(2026, 5, 14).date()
    assert say("What's on tomorrow?") == "Tomorrow you have 1 event: the school trip."


def test_unrelated_requests_pass_through(say):
    assert say("What's the weather like?") is None
    assert say("Cancel my subscription.") is None
    assert say("Remind me to put the meeting notes away at 5.").startswith("I'll remind you")  # a reminder, not an event
    assert not calendar_path().exists()


def test_ics_export_import_round_trip_keeps_foreign_events_whole(tmp_path, say, capsys):
    say("Put lunch with Amy on Friday at one.")
    exported = tmp_path / "mine.ics"
    assert main(["calendar", "export", str(exported)]) == 0
    assert Calendar.from_ical(exported.read_bytes()).to_ical() == calendar_path().read_bytes()

    dinner = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=3)  # the CLI lists from the real now
    source = foreign_file(tmp_path / "theirs.ics", foreign_event("dinner-1@elsewhere", "Dinner with Catherine", dinner,
                                                                timedelta(hours=2), location="The Gondola",
                                                                description="bring wine"))
    for _ in range(2):  # importing twice replaces by UID instead of duplicating
        assert main(["calendar", "import", str(source)]) == 0
    events = parsed_events()
    assert set(events) == {"lunch with Amy", "Dinner with Catherine"}
    assert str(events["Dinner with Catherine"]["LOCATION"]) == "The Gondola"
    assert str(events["Dinner with Catherine"]["DESCRIPTION"]) == "bring wine"
    capsys.readouterr()
    assert main(["calendar", "list", "--days", "400"]) == 0
    assert "Dinner with Catherine" in capsys.readouterr().out


def test_cli_add_and_bad_import(tmp_path, capsys):
    assert main(["calendar", "add", "lunch", "with", "Amy", "tomorrow", "at", "1", "pm"]) == 0
    assert "added: lunch with Amy" in capsys.readouterr().out
    assert main(["calendar", "add", "lunch", "with", "Amy", "tomorrow", "at", "1:30", "pm"]) == 0
    assert "overlaps with: lunch with Amy" in capsys.readouterr().out
    bad = tmp_path / "bad.ics"
    bad.write_text("this is not a calendar")
    assert main(["calendar", "import", str(bad)]) == 1
    assert "is not a valid iCalendar (.ics) file" in capsys.readouterr().err
    assert main(["calendar", "import", str(tmp_path / "missing.ics")]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert len(Calendar.from_ical(calendar_path().read_bytes()).walk("VEVENT")) == 2


def test_an_imported_repeating_event_is_found_on_every_date(tmp_path, say):
    half_hour = timedelta(minutes=30)
    standup = foreign_event("standup@elsewhere", "Team standup", datetime(2026, 5, 4, 10, 0, tzinfo=BERLIN), half_hour,
                            rrule={"freq": "weekly", "byday": ["MO", "TH"],
                                   "until": datetime(2026, 6, 1, 8, 0, tzinfo=timezone.utc)},
                            exdate=datetime(2026, 5, 14, 10, 0, tzinfo=BERLIN))  # skipped once
    moved = foreign_event("standup@elsewhere", "Team standup", datetime(2026, 5, 21, 15, 0, tzinfo=BERLIN), half_hour,
                          recurrence_id=datetime(2026, 5, 21, 10, 0, tzinfo=BERLIN))  # one moved to the afternoon
    source = foreign_file(tmp_path / "work.ics", standup, moved)
    assert main(["calendar", "import", str(source)]) == 0

    assert say("What's on tomorrow?") == "Nothing on your calendar tomorrow."  # Thursday the 14th is excepted
    assert say("What's my week like?") == "In the next seven days you have 1 event: Team standup on Monday at 10 am."
    cal = CalendarFile(calendar_path(), BERLIN)
    found = [e.start.astimezone(BERLIN) for e in cal.between(datetime(2026, 5, 1, tzinfo=BERLIN), datetime(2026, 7, 1, tzinfo=BERLIN))]
    assert [(d.month, d.day, d.hour) for d in found] == [(5, 4, 10), (5, 7, 10), (5, 11, 10), (5, 18, 10), (5, 21, 15),
                                                         (5, 25, 10), (5, 28, 10), (6, 1, 10)]  # UNTIL is inclusive
    assert all(e.end - e.start == half_hour for e in cal.between(found[0], found[-1]))


@pytest.mark.parametrize("said, answer", [
    ("Put lunch with Amy on my calendar yesterday at 1 pm.", "“yesterday” is in the past"),
    ("Put lunch with Amy on my calendar on February 30 at 1 pm.", "There is no February 30"),
    ("Put lunch with Amy on my calendar at 25:00.", "as a time of day"),
])
def test_an_event_at_a_time_that_cannot_be_is_not_added(say, said, answer):
    assert answer in say(said)
    assert not calendar_path().exists() or "lunch" not in calendar_path().read_text().lower()


def test_cli_add_refuses_a_time_that_cannot_be(capsys):
    assert main(["calendar", "add", "lunch", "with", "Amy", "yesterday", "at", "1", "pm"]) == 1
    assert "is in the past" in capsys.readouterr().err
    assert not calendar_path().exists()


def test_export_carries_the_time_zones_its_events_name(tmp_path, capsys):
    meeting = foreign_event("m@elsewhere", "Planning", datetime(2026, 5, 14, 10, 0, tzinfo=BERLIN), timedelta(hours=1))
    call = foreign_event("c@elsewhere", "Call with Tokyo", datetime(2026, 5, 15, 9, 0, tzinfo=ZoneInfo("Asia/Tokyo")),
                         timedelta(minutes=30))
    assert main(["calendar", "import", str(foreign_file(tmp_path / "theirs.ics", meeting, call))]) == 0
    exported = tmp_path / "mine.ics"
    assert main(["calendar", "export", str(exported)]) == 0
    cal = Calendar.from_ical(exported.read_bytes())
    assert {str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")} == {"Europe/Berlin", "Asia/Tokyo"}
    assert cal.get_missing_tzids() == set()
    assert calendar_path().read_bytes().count(b"BEGIN:VTIMEZONE") == 2  # the file itself is complete too


def test_an_event_without_a_start_is_refused_on_import(tmp_path, capsys):
    dinner = foreign_event("d@elsewhere", "Dinner", datetime(2026, 5, 14, 19, 0, tzinfo=BERLIN), timedelta(hours=2))
    broken = Event()
    broken.add("uid", "x@elsewhere")
    broken.add("summary", "Mystery party")
    assert main(["calendar", "import", str(foreign_file(tmp_path / "theirs.ics", dinner, broken))]) == 1
    assert "'Mystery party' has no start time (DTSTART); nothing was imported" in capsys.readouterr().err
    assert not calendar_path().exists()


def test_a_table_for_two_tonight_asks_the_time_and_is_no_2_am_event(say):
    """The count of people is no time, and "tonight" with no time is asked, not guessed; she
    says she cannot make the booking itself."""
    assert say("Book a table for two tonight.") == "What time tonight should I put a table for 2 on your calendar?"
    assert not calendar_path().exists()  # nothing is put on the calendar on a guess
    assert say("Seven thirty.") == ("I can't make the booking itself, but I've put a table for 2 today at 7:30 pm "
                                    "on your calendar.")
    start = parsed_events()["a table for 2"].decoded("DTSTART")
    assert start == datetime(2026, 5, 13, 19, 30, tzinfo=BERLIN)


def test_a_time_asked_for_can_be_dropped_or_passed_over(say):
    assert say("Put dinner with Sam tonight on my calendar.").startswith("What time tonight")
    assert say("Never mind.") == "All right, I didn't put dinner with Sam on your calendar."
    assert say("Book a table for four tomorrow evening.").startswith("What time in the evening")
    assert say("What's on tomorrow?") == "Nothing on your calendar tomorrow."  # another request: the question is dropped
    assert say("Book a table for four at 8 tonight.") == ("I can't make the booking itself, but I've put a table for 4 "
                                                           "today at 8 pm on your calendar.")
