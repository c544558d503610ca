"""Due reminders in the live loop: said only in a gap, earcon first, the mic's backlog
dropped afterwards; and said at start for what came due while she was off."""

from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

from companion.ops.config import Config, SkillsConfig
from companion.skills import build_skills
from companion.audio.earcons import tone as earcon_tone
from companion.skills.announce import IdleAnnouncer
from companion.skills.clock import ManualClock


class FakeVoice:
    sample_rate = 22050

    def synthesize(self, text):
        yield np.full(10, 0.5, np.float32)


class RecordingSink:
    def __init__(self):
        self.events = []

    def begin(self):
        self.events.append("begin")

    def write(self, audio, rate):
        self.events.append(("earcon" if len(audio) > 10 else "words", rate))

    def finish(self):
        self.events.append("finish")


class FakeMic:
    def __init__(self, frames, endpointer, talking_at):
        self.frames, self.endpointer, self.talking_at, self.drained = frames, endpointer, talking_at, 0

    def __iter__(self):
        for i in range(self.frames):
            self.endpointer.in_speech = i in self.talking_at
            yield i

    def drain(self):
        self.drained += 1


class FakeEndpointer:
    in_speech = False
    resets = 0

    def reset(self):
        self.resets += 1


def test_due_reminder_waits_for_a_gap_then_earcon_and_words():
    clock = ManualClock(datetime(2026, 5, 13, 14, 0, tzinfo=ZoneInfo("Europe/Berlin")))
    router = build_skills(Config(skills=SkillsConfig(timezone="Europe/Berlin")), clock=clock)
    router.handle("In 5 minutes remind me to check the oven.", clock())
    clock.advance(minutes=5)
    sink, endpointer = RecordingSink(), FakeEndpointer()
    mic = FakeMic(4, endpointer, talking_at={0, 1})
    announcer = IdleAnnouncer(router, FakeVoice(), sink, check_every_s=0)
    seen = []
    for frame in announcer.between_turns(mic, endpointer):
        seen.append((frame, list(sink.events)))
    assert [events for frame, events in seen[:3]] == [[], [], []]  # the user is talking: wait
    assert sink.events == ["begin", ("earcon", 22050), ("words", 22050), "finish"]  # said once, in the gap
    assert (mic.drained, endpointer.resets) == (1, 1)


def test_start_announcements_are_spoken_before_listening():
    clock = ManualClock(datetime(2026, 5, 13, 14, 0, tzinfo=ZoneInfo("Europe/Berlin")))
    cfg = Config(skills=SkillsConfig(timezone="Europe/Berlin"))
    build_skills(cfg, clock=clock).handle("Remind me to call Amy at 3 pm.", clock())
    clock.advance(hours=5)
    sink, mic = RecordingSink(), FakeMic(0, FakeEndpointer(), set())
    IdleAnnouncer(build_skills(cfg, clock=clock), FakeVoice(), sink).at_start(mic)
    assert sink.events[:2] == ["begin", ("earcon", 22050)] and mic.drained == 1


def test_earcon_is_soft_and_starts_and_ends_silently():
    tone = earcon_tone("reminder", rate=22050)
    assert 0.3 < len(tone) / 22050 < 0.5
    assert np.abs(tone).max() <= 0.13
    assert abs(tone[0]) < 1e-3 and abs(tone[-1]) < 1e-3
