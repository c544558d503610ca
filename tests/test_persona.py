"""Personas: readable files in prompts/, the reminder last in the prompt, clear errors, and
Character Card V2/V3 import."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from companion.ops.cli import main
from companion.contracts import Recall
from companion.dialogue.conversation import Conversation
from companion.dialogue.persona import Example, PersonaError, from_card, load_persona

CARD_V2 = {
    "spec": "chara_card_v2", "spec_version": "2.0",
    "data": {
        "name": "Ada", "description": "{{char}} is a retired engineer who helps {{user}} fix things.",
        "personality": "patient, dry humour", "scenario": "A workshop on a rainy afternoon.",
        "first_mes": "Hello {{user}}, what's broken today?",
        "mes_example": "<START>\n{{user}}: My bike squeaks.\n{{char}}: Oil the chain, then we talk.\n"
                       "<START>\n{{user}}: Is it fixable?\n{{char}}: Almost everything is.",
        "system_prompt": "", "post_history_instructions": "Stay {{char}}; short answers.",
        "creator_notes": "", "tags": [], "extensions": {"companion": {"voice": "joe"}},
    },
}


def test_samantha_is_the_default_and_has_every_part():
    p = load_persona("samantha")
    assert (p.name, p.voice) == ("Samantha", "heart")
    assert p.style.startswith("Everything you write is spoken aloud")
    assert p.examples[0] == Example("I had a rough day at work.", p.examples[0].assistant)
    assert "User: I had a rough day at work.\nSamantha: Oh no" in p.system_prompt
    assert p.reminder and p.reminder not in p.system_prompt


def test_reminder_and_time_come_after_the_history_and_memory_just_before_the_words():
    """The persona opens the request; after the cacheable history come the time and the
    reminder (read ahead while the user speaks), then what memory recalled for these words,
    then the words."""
    p = load_persona("samantha")
    conv = Conversation(None, None, None, p)
    conv.history = [{"role": "user", "content": "earlier"}, {"role": "assistant", "content": "reply"}]
    messages = conv.messages("hi", Recall(context="MEMORY HERE"), datetime(2024, 3, 4, 9, 30))
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "system", "system", "user"]
    assert messages[0]["content"] == p.system_prompt
    lead = messages[3]["content"]
    assert lead.startswith("It is Monday, March 4, 2024, 9:30 AM.") and lead.endswith(p.reminder)
    assert messages[4]["content"] == "MEMORY HERE"


@pytest.mark.parametrize("text, message", [
    ('+++\nname = "X"\nmood = "odd"\n+++\nHello.', "unknown front matter keys ['mood']"),
    ('+++\nname = \n+++\nHello.', "front matter is not valid TOML"),
    ('+++\nname = "X"\n+++\n   \n', "the persona has no description"),
    ('+++\nname = "X"\n', "front matter must be closed"),
    ('+++\n[[examples]]\nuser = "hi"\n+++\nHello.', "each [[examples]] entry needs 'user' and 'assistant'"),
])
def test_malformed_personas_say_what_is_wrong(tmp_path, text, message):
    (tmp_path / "x.md").write_text(text)
    with pytest.raises(PersonaError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_persona("x", tmp_path)


def test_unknown_persona_lists_the_available_ones(tmp_path):
    (tmp_path / "bob.md").write_text("You are Bob.")
    (tmp_path / "ada.json").write_text(json.dumps(CARD_V2))
    with pytest.raises(PersonaError, match="available: ada, bob"):
        load_persona("nobody", tmp_path)
    assert load_persona("ada", tmp_path).name == "Ada"


@pytest.mark.parametrize("spec", ["chara_card_v2", "chara_card_v3"])
def test_character_cards_import(spec):
    card = dict(CARD_V2, spec=spec)
    p = from_card(json.dumps(card))
    assert p.name == "Ada" and p.voice == "joe"
    assert p.description == ("Ada is a retired engineer who helps the user fix things.\n\n"
                             "A workshop on a rainy afternoon.")
    assert p.style == "Ada's personality: patient, dry humour"
    assert p.examples == (Example("My bike squeaks.", "Oil the chain, then we talk."),
                          Example("Is it fixable?", "Almost everything is."))
    assert p.greeting == "Hello the user, what's broken today?"
    assert p.reminder == "Stay Ada; short answers."


def test_v1_flat_cards_and_bad_cards():
    assert from_card(json.dumps({"name": "Flat", "description": "A plain card."})).description == "A plain card."
    with pytest.raises(PersonaError, match="not a character card"):
        from_card(json.dumps({"spec": "chara_card_v2", "data": {"description": "no name"}}))
    with pytest.raises(PersonaError, match="not valid JSON"):
        from_card("{nope")


def test_persona_flag_chooses_the_persona(tmp_path, capsys):
    assert main(["--persona", "nobody", "replay", str(tmp_path / "a.wav"), "--out", str(tmp_path / "out")]) == 1
    assert "persona 'nobody' not found" in capsys.readouterr().err
