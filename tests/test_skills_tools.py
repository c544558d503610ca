"""The skills as OpenAI tools, against the scripted endpoint (real openai client, streamed
tool calls in OpenAI's wire format) with a controllable clock: a call that stores a
reminder, arguments that are refused back to the model, destructive calls that wait for the
user's "yes", an endpoint that refuses tools, and when no tools are offered at all."""

import json
import logging
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from companion.audio.sinks import NullSink
from companion.llm.client import Brain, ToolCall
from companion.ops.cli import main
from companion.ops.config import Config, ConfigError, LLMConfig, SkillsConfig, load_config
from companion.dialogue.conversation import Conversation
from companion.llm.embedded import Endpoint
from companion.dialogue.persona import load_persona
from companion.skills import build_skills
from companion.skills.clock import ManualClock
from companion.testing.scripted_llm import Reply, ScriptedLLM
from companion.testing.stand_ins import Silent
from companion.records import Transcript, Utterance

BERLIN = ZoneInfo("Europe/Berlin")
UTT = Utterance(np.zeros(1600, np.float32), 0.0, 0.1, 0.7)


@pytest.fixture
def clock():
    return ManualClock(datetime(2026, 5, 13, 14, 0, tzinfo=BERLIN))  # Wednesday, 2 pm


class Talk:
    """One conversation whose user says what a test tells it to; skills on the data directory."""

    def __init__(self, server, clock, tools="on", base_url=None):
        cfg = Config(llm=LLMConfig(base_url=base_url or server.base_url),
                     skills=SkillsConfig(timezone="Europe/Berlin", tools=tools))
        self.router = build_skills(cfg, clock=clock)
        brain = Brain(cfg.llm, Endpoint(server.base_url, "key", "scripted"))
        self.conv = Conversation(self, brain, Silent(), load_persona("samantha"), skills=[self.router], clock=clock)
        self.server, self.clock, self._text = server, clock, ""

    def transcribe(self, audio):
        return Transcript(self._text, "en", 0.0)

    def say(self, text: str) -> str:
        self._text = text
        return self.conv.respond(UTT, NullSink()).reply_text

    def skill(self, name):
        return next(s for s in self.router.skills if type(s).__name__ == name)


def tool_results(request) -> list[dict]:
    return [json.loads(m["content"]) for m in request["messages"] if m["role"] == "tool"]


def test_brain_gathers_streamed_tool_call_fragments(scripted_llm):
    scripted_llm.enqueue(Reply("One moment. ", tool_calls=[("list_reminders", {}),
                                                           ("add_reminder", {"task": "call Amy", "when": "at 5 pm"})]))
    brain = Brain(LLMConfig(), Endpoint(scripted_llm.base_url, "key", "scripted"))
    items = list(brain.stream([{"role": "user", "content": "hi"}], tools=[{"type": "function", "function": {"name": "x"}}]))
    assert "".join(i for i in items if isinstance(i, str)) == "One moment. "
    assert items[-1] == [ToolCall("call_0", "list_reminders", "{}"),
                         ToolCall("call_1", "add_reminder", '{"task": "call Amy", "when": "at 5 pm"}')]
    assert scripted_llm.requests[0]["tools"] == [{"type": "function", "function": {"name": "x"}}]


def test_a_tool_call_adds_a_reminder_that_is_read_back_and_kept(scripted_llm, clock):
    talk = Talk(scripted_llm, clock)
    scripted_llm.enqueue(Reply("Sure. ", tool_calls=[("add_reminder", {"task": "water the plants", "when": "tomorrow at 6pm"})]),
                         "I'll remind you to water the plants tomorrow at 6 pm. Right?")
    reply = talk.say("Don't let me forget to water the plants tomorrow at six in the evening.")
    assert reply == "Sure. I'll remind you to water the plants tomorrow at 6 pm. Right?"  # the text before the call is spoken
    first, second = scripted_llm.requests
    assert [t["function"]["name"] for t in first["tools"]] == [
        "add_reminder", "list_reminders", "cancel_reminder", "add_event", "list_events", "move_event", "delete_event",
        "start_letter"]
    asked = second["messages"][-2]
    assert asked["role"] == "assistant" and asked["content"] == "Sure. "
    assert asked["tool_calls"][0]["function"]["name"] == "add_reminder"
    assert tool_results(second) == [{"reply": "I'll remind you to water the plants tomorrow, Thursday, at 6 pm. Right?"}]
    [stored] = talk.skill("ReminderSkill").book.active()
    assert (stored.text, stored.due) == ("water the plants", datetime(2026, 5, 14, 18, 0, tzinfo=BERLIN))
    # the read-back's answer and the listing are the deterministic layer's: no model asked
    assert talk.say("Yes.") == "Good, it's set."
    assert talk.say("What are my reminders?") == "You have 1 reminder: water the plants tomorrow, Thursday, at 6 pm."
    assert len(scripted_llm.requests) == 2


def test_invalid_arguments_go_back_to_the_model_not_into_the_skills(scripted_llm, clock):
    talk = Talk(scripted_llm, clock)
    scripted_llm.enqueue(Reply(tool_calls=[("add_reminder", {"task": "water the plants", "when": "whenever suits"}),
                                           ("add_reminder", {"task": 5}),
                                           ("list_events", {"period": "month"}),
                                           ("add_event", '{"title": "lunch", "when": '),
                                           ("launch_rocket", {}),
                                           ("cancel_reminder", {"which": "bread", "force": True})]),
                         "Sorry, when should I remind you?")
    assert talk.say("Don't let me forget the plants.") == "Sorry, when should I remind you?"
    errors = [r["error"] for r in tool_results(scripted_llm.requests[1])]
    assert errors[0].startswith("add_reminder: cannot understand the time 'whenever suits'")
    assert errors[1] == "add_reminder: missing when"
    assert errors[2] == 'list_events: period must be one of day, week, not "month"'
    assert errors[3].startswith("add_event: the arguments are not valid JSON")
    assert errors[4].startswith("launch_rocket: there is no tool 'launch_rocket'")
    assert errors[5] == "cancel_reminder: unknown argument force; allowed: which"
    assert talk.skill("ReminderSkill").book.active() == []
    assert not (talk.skill("CalendarSkill").calendar.path.exists())


def test_a_cancel_asked_by_the_model_waits_for_the_users_yes(scripted_llm, clock):
    talk = Talk(scripted_llm, clock)
    assert talk.say("Remind me to take the bread out in 20 minutes.").endswith("Right?")  # the rules, no model
    assert talk.say("Yes.") == "Good, it's set."
    book = talk.skill("ReminderSkill").book
    for answer in ("No.", "Yes."):
        scripted_llm.enqueue(Reply(tool_calls=[("cancel_reminder", {"which": "bread"})]),
                             "Cancel the bread reminder? Say yes to cancel it.")
        assert talk.say("Get rid of the bread thing.") == "Cancel the bread reminder? Say yes to cancel it."
        assert tool_results(scripted_llm.requests[-1]) == [
            {"reply": "Cancel the reminder to take the bread out in 20 minutes, at 2:20 pm? Say yes to cancel it."}]
        assert [r.text for r in book.active()] == ["take the bread out"]  # not yet
        reply = talk.say(answer)
        if answer == "No.":
            assert reply == "All right, I kept it." and len(book.active()) == 1
        else:
            assert reply == "Cancelled the reminder to take the bread out." and book.active() == []
    assert len(scripted_llm.requests) == 4  # the yes and the no were heard by the rules


def test_moving_and_removing_an_event_wait_for_yes(scripted_llm, clock):
    talk = Talk(scripted_llm, clock)
    assert talk.say("Put lunch with Amy on Friday at one.") == "I've put lunch with Amy on Friday at 1 pm on your calendar."
    calendar = talk.skill("CalendarSkill").calendar
    scripted_llm.enqueue(Reply(tool_calls=[("move_event", {"which": "lunch with Amy", "to": "3pm"})]), "Move it to 3? Say yes.")
    talk.say("Could lunch with Amy happen a bit later, at three?")
    assert tool_results(scripted_llm.requests[-1]) == [
        {"reply": "Move lunch with Amy on Friday at 1 pm so it starts on Friday at 3 pm? Say yes to move it."}]
    assert calendar.events()[0].start.astimezone(BERLIN).hour == 13  # not moved yet
    assert talk.say("Yes, please.") == "Moved lunch with Amy on Friday at 3 pm."
    assert calendar.events()[0].start.astimezone(BERLIN).hour == 15
    scripted_llm.enqueue(Reply(tool_calls=[("delete_event", {"which": "lunch"})]), "Shall I remove it?")
    talk.say("Amy can't make it, so lunch is off.")
    assert tool_results(scripted_llm.requests[-1]) == [
        {"reply": "Remove lunch with Amy on Friday at 3 pm from your calendar? Say yes to remove it."}]
    assert talk.say("Something else entirely.") == "I'm here."  # not a yes: nothing removed, the request dropped
    assert len(calendar.events()) == 1


def test_tool_rounds_are_bounded_then_the_model_must_speak(scripted_llm, clock):
    talk = Talk(scripted_llm, clock)
    again = Reply(tool_calls=[("list_reminders", {})])
    scripted_llm.enqueue(again, again, Reply("You have no reminders.", tool_calls=[("list_reminders", {})]))
    assert talk.say("Anything I should not forget?") == "You have no reminders."
    assert ["tools" in r for r in scripted_llm.requests] == [True, True, False]


def test_an_endpoint_that_refuses_tools_gets_plain_requests_for_the_session(clock, caplog):
    with ScriptedLLM(reject_tools=True) as server:
        talk = Talk(server, clock)
        server.enqueue("Hello there.", "Still here.")
        with caplog.at_level(logging.WARNING):
            assert talk.say("How are you today?") == "Hello there."
            assert talk.say("And how was your day?") == "Still here."
        assert ["tools" in r for r in server.requests] == [True, False, False]
    assert sum("without tools for the rest of this session" in r.message for r in caplog.records) == 1


def test_tools_off_and_the_embedded_default_offer_no_tools(scripted_llm, clock):
    for talk in (Talk(scripted_llm, clock, tools="off"), Talk(scripted_llm, clock, tools="auto", base_url="embedded")):
        assert talk.router.tools is None
        assert talk.say("How are you today?") == "I'm here."
    assert Talk(scripted_llm, clock, tools="auto").router.tools is not None  # another endpoint: on
    assert all("tools" not in r for r in scripted_llm.requests) and len(scripted_llm.requests) == 2


def test_the_setting_names_its_allowed_values():
    assert load_config(flags={"skills": {"tools": "off"}}, environ={}).skills.tools == "off"
    with pytest.raises(ConfigError, match=r"\[skills\] tools = 'maybe' is not allowed; choose one of: auto, on, off"):
        load_config(flags={"skills": {"tools": "maybe"}}, environ={})


@pytest.mark.slow
def test_spoken_request_the_rules_miss_is_done_through_a_tool(tmp_path, speech, scripted_llm, capsys):
    scripted_llm.enqueue(Reply(tool_calls=[("add_reminder", {"task": "water the plants", "when": "tomorrow at 6pm"})]),
                         "I'll remind you to water the plants tomorrow at 6 pm.")
    out = tmp_path / "out"
    wav = speech("Please don't let me forget to water the plants tomorrow evening.")
    assert main(["-q", "replay", str(wav), "--out", str(out), "--set", f"llm.base_url={scripted_llm.base_url}",
                 "--set", "skills.timezone=Europe/Berlin"]) == 0
    [turn] = [json.loads(line) for line in (out / "transcript.jsonl").read_text().splitlines()]
    assert "water the plants" in turn["user_text"].lower()
    assert turn["reply_text"] == "I'll remind you to water the plants tomorrow at 6 pm."
    assert "tools" in scripted_llm.requests[0] and tool_results(scripted_llm.requests[1])[0]["reply"].startswith(
        "I'll remind you to water the plants tomorrow, ")
    capsys.readouterr()
    assert main(["--set", "skills.timezone=Europe/Berlin", "reminders", "list"]) == 0
    listed = capsys.readouterr().out
    assert "water the plants" in listed and "18:00" in listed
