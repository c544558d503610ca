"""Spoken times -> datetimes: relative offsets, days, clock times, repetition, and the
am/pm rule for an hour said alone ("at 5" in the morning vs in the evening)."""

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from companion.ops.config import ConfigError
from companion.skills.phrasing import say_rule, say_when
from companion.skills.timeparse import find_when, normalize, user_timezone, without

BERLIN = ZoneInfo("Europe/Berlin")
WED_2PM = datetime(2026, 5, 13, 14, 0, tzinfo=BERLIN)  # a Wednesday


def when(text, now=WED_2PM, **kw):
    return find_when(normalize(text), now, **kw)


@pytest.mark.parametrize("text, expected", [
    ("remind me to call my sister tomorrow at six", datetime(2026, 5, 14, 18, 0)),
    ("in twenty minutes remind me to take the bread out", datetime(2026, 5, 13, 14, 20)),
    ("remind me in an hour and a half", datetime(2026, 5, 13, 15, 30)),
    ("put lunch with Amy on Friday at one", datetime(2026, 5, 15, 13, 0)),
    ("remind me at 6 in the morning to run", datetime(2026, 5, 14, 6, 0)),
    ("remind me at half past four to leave", datetime(2026, 5, 13, 16, 30)),
    ("remind me at a quarter to five", datetime(2026, 5, 13, 16, 45)),
    ("remind me on March 3 at 4 p.m. about taxes", datetime(2027, 3, 3, 16, 0)),
    ("remind me next tuesday to call the dentist", datetime(2026, 5, 19, 9, 0)),
    ("remind me this evening to call dad", datetime(2026, 5, 13, 18, 0)),
    ("remind me at noon to eat", datetime(2026, 5, 14, 12, 0)),
    ("remind me to go to bed tonight at 11", datetime(2026, 5, 13, 23, 0)),
    ("remind me at 17:45", datetime(2026, 5, 13, 17, 45)),
])
def test_phrases_resolve_in_the_users_zone(text, expected):
    assert when(text).resolve(WED_2PM) == expected.replace(tzinfo=BERLIN)


@pytest.mark.parametrize("now, expected", [
    (datetime(2026, 5, 13, 3, 30), datetime(2026, 5, 13, 5, 0)),  # before dawn: 5 am is next
    (datetime(2026, 5, 13, 9, 0), datetime(2026, 5, 13, 17, 0)),  # in the morning: 5 pm
    (datetime(2026, 5, 13, 18, 0), datetime(2026, 5, 14, 17, 0)),  # in the evening: tomorrow 5 pm
])
def test_at_5_is_the_nearest_sensible_5_and_flagged_as_guessed(now, expected):
    now = now.replace(tzinfo=BERLIN)
    parsed = when("remind me at 5 to call mom", now)
    assert parsed.guessed_half
    assert parsed.resolve(now) == expected.replace(tzinfo=BERLIN)


def test_explicit_half_of_day_is_not_guessed():
    assert not when("at 5 pm").guessed_half
    assert when("at 5 in the morning").clock == time(5)
    assert when("tomorrow at 7").clock == time(7)  # 7-11 unsaid: morning
    assert when("tomorrow at 3").clock == time(15)  # 12-6 unsaid: afternoon


def test_repetition_becomes_an_rrule_and_the_first_occurrence():
    parsed = when("every Sunday at 10 remind me to water the plants")
    assert parsed.rule == "FREQ=WEEKLY;BYDAY=SU"
    first = parsed.resolve(WED_2PM)
    assert first == datetime(2026, 5, 17, 10, 0, tzinfo=BERLIN)
    assert say_rule(parsed.rule, first) == "every Sunday at 10 am"
    assert when("every weekday at 8 am").rule == "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"
    assert when("every day at 8").resolve(WED_2PM) == datetime(2026, 5, 14, 8, 0, tzinfo=BERLIN)


def test_daily_repetition_keeps_wall_clock_time_across_daylight_saving():
    from companion.skills.timeparse import next_occurrence

    start = datetime(2026, 3, 28, 8, 0, tzinfo=BERLIN)  # the night after, clocks go forward
    after = next_occurrence("FREQ=DAILY", start, start)
    assert after == datetime(2026, 3, 29, 8, 0, tzinfo=BERLIN)
    assert after.utcoffset() != start.utcoffset()


def test_the_rest_of_the_sentence_is_the_request():
    text = normalize("Remind me to call my sister tomorrow at six.")
    assert without(text, find_when(text, WED_2PM)) == "remind me to call my sister"
    text = normalize("I may call 3 people")  # "may" is not a month, "3" is not a time
    assert not find_when(text, WED_2PM)


def test_a_bare_number_is_an_hour_only_when_asked():
    assert not when("2")
    assert when("2", bare_hour=True).clock == time(14)


def test_read_back_names_the_day_and_half_of_day():
    assert say_when(datetime(2026, 5, 14, 18, 0, tzinfo=BERLIN), WED_2PM) == "tomorrow, Thursday, at 6 pm"
    assert say_when(datetime(2026, 5, 13, 14, 20, tzinfo=BERLIN), WED_2PM) == "in 20 minutes, at 2:20 pm"
    assert say_when(datetime(2026, 5, 15, 12, 0, tzinfo=BERLIN), WED_2PM) == "on Friday at noon"


def test_unknown_time_zone_is_a_config_error_naming_the_key():
    with pytest.raises(ConfigError, match=r"\[skills\] timezone = 'Mars/Olympus'"):
        user_timezone("Mars/Olympus")


@pytest.mark.parametrize("text", ["book a table for two tonight", "book a table for 2 tonight", "dinner for four tomorrow",
                                  "a meeting for 3 people on Friday", "a party of six tonight"])
def test_a_count_of_people_is_not_a_time(text):
    parsed = when(text)
    assert parsed.clock is None and not parsed.guessed_half
    assert any(n in without(normalize(text), parsed).split() for n in ("2", "4", "3", "6"))  # kept in the title


def test_tonight_is_the_evening_and_its_small_hours_are_after_midnight():
    assert when("book a table for two tonight").part_of_day == "tonight"
    assert when("book a table for two tonight at 7:30").resolve(WED_2PM) == datetime(2026, 5, 13, 19, 30, tzinfo=BERLIN)
    assert when("at 1 tonight").resolve(WED_2PM) == datetime(2026, 5, 14, 1, 0, tzinfo=BERLIN)
