"""Letters by voice: the short interview, a draft read aloud, two spoken edits, saving as
Markdown in the configured folder, drafts that survive a restart, reading a letter back,
and LLM drafting that falls back to the template when the model fails or rambles."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from companion.llm.client import BrainError
from companion.ops.cli import main
from companion.ops.config import Config, LLMConfig, SkillsConfig
from companion.skills import build_skills
from companion.skills.clock import ManualClock

BERLIN = ZoneInfo("Europe/Berlin")
START = "Help me write a letter to my grandmother to thank her for the sweater."


class FakeBrain:
    """Stands in for companion.llm.client.Brain: yields scripted replies (or raises), records requests."""

    def __init__(self, *replies):
        self.replies, self.requests = list(replies), []

    def stream(self, messages, cancel=None):
        self.requests.append(messages)
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        yield from reply.split(" ")[:1] + [" " + w for w in reply.split(" ")[1:]]


@pytest.fixture
def clock():
    return ManualClock(datetime(2026, 5, 13, 14, 0, tzinfo=BERLIN))


@pytest.fixture
def letters_dir(tmp_path):
    return tmp_path / "My Letters"


def desk(clock, letters_dir, brain=None, use_llm="never"):
    cfg = Config(llm=LLMConfig(base_url="http://127.0.0.1:9/v1"),
                 skills=SkillsConfig(timezone="Europe/Berlin", letters_dir=str(letters_dir), letters_llm=use_llm))
    router = build_skills(cfg, brain, clock=clock)
    return router, (lambda text: router.handle(text, clock()))


def test_letter_session_with_two_edits_saved_as_markdown(clock, letters_dir):
    _, say = desk(clock, letters_dir)
    assert say(START) == "Lovely. Is there anything special you'd like me to mention? If not, just say no."
    assert say("Tell her it keeps me warm on my walks.") == "And how would you like to sign it?"
    draft = say("Theo.")
    assert draft.startswith("Here's the draft. Dear Grandmother,")
    assert "I wanted to write to thank you for the sweater." in draft
    assert "it keeps me warm on my walks" in draft.lower()
    assert draft.endswith("With love,\nTheo Shall I change anything, or is it good?")

    warmer = say("Make it warmer.")
    assert "With all my love,\nTheo" in warmer
    changed = say("Change the last line to I can't wait to see you at Christmas.")
    assert "I can't wait to see you at Christmas." in changed
    assert say("Read it again.") == changed.removeprefix("Here it is now. ").removesuffix(" Anything else?")

    saved = say("That's good.")
    [path] = letters_dir.glob("*.md")
    assert saved == f"Saved. It's in your letters folder, {letters_dir}, as {path.name}."
    assert path.name == "2026-05-13-letter-to-grandmother.md"
    text = path.read_text()
    assert text.startswith("Dear Grandmother,\n\n")
    paragraphs = text.strip().split("\n\n")
    assert paragraphs[-2] == "I can't wait to see you at Christmas."
    assert paragraphs[-1] == "With all my love,\nTheo"
    assert say("What's the weather like?") is None  # the session is over


def test_draft_survives_a_restart(clock, letters_dir):
    _, say = desk(clock, letters_dir)
    say(START)
    say("No.")
    restarted, say = desk(clock, letters_dir)  # switched off mid-interview
    assert restarted.start_announcements() == [
        "Your letter to your grandmother is still a draft; say 'continue my letter' to finish it."]
    assert say("Hello there.") is None  # not hijacked until asked
    assert say("Let's continue my letter.") == "And how would you like to sign it?"
    assert say("Love, Theo.").startswith("Here's the draft. Dear Grandmother,")
    assert say("Save it.").startswith("Saved.")
    assert restarted.start_announcements() == []


def test_pause_keeps_the_draft_and_discard_drops_it(clock, letters_dir):
    _, say = desk(clock, letters_dir)
    say("Write a letter to Amy.")
    assert say("Let's finish it later.") == "All right, I'll keep the draft. Say 'continue my letter' when you want to go on."
    assert say("Continue my letter.") == "A letter to Amy. What would you like to tell them?"
    assert say("Throw it away.") == "Okay, I've thrown that draft away."
    assert say("Continue my letter.").startswith("There's no unfinished letter")


def test_the_llm_drafts_and_revises_when_allowed(clock, letters_dir):
    letter = "Dear Grandma,\n\nThank you so much for the sweater. It is perfect.\n\nLove,\nTheo"
    warmer = "Dear Grandma,\n\nThank you, from the bottom of my heart, for the sweater.\n\nAll my love,\nTheo"
    brain = FakeBrain(letter, warmer)
    _, say = desk(clock, letters_dir, brain, use_llm="auto")
    say(START)
    say("No.")
    assert say("Theo.") == f"Here's the draft. {letter} Shall I change anything, or is it good?"
    assert "sweater" in brain.requests[0][-1]["content"] and "Theo" in brain.requests[0][-1]["content"]
    assert say("Make it warmer.") == f"Here it is now. {warmer} Anything else?"
    assert "make it warmer" in brain.requests[1][-1]["content"].lower()


@pytest.mark.parametrize("failure", [BrainError("the endpoint is down"), "Sure! Here you go: sweater."])
def test_a_failing_or_rambling_model_falls_back_to_the_template(clock, letters_dir, failure):
    _, say = desk(clock, letters_dir, FakeBrain(failure), use_llm="always")
    say(START)
    say("No.")
    assert say("Theo.").startswith("Here's the draft. Dear Grandmother,\n\nI wanted to write to thank you for the sweater.")


def test_embedded_model_never_drafts_on_auto(clock, letters_dir):
    brain = FakeBrain()
    cfg = Config(skills=SkillsConfig(timezone="Europe/Berlin", letters_dir=str(letters_dir)))  # base_url embedded
    router = build_skills(cfg, brain, clock=clock)
    for text in (START, "No.", "Theo."):
        router.handle(text, clock())
    assert brain.requests == []


def test_read_back_a_saved_letter_or_a_named_file(clock, letters_dir, capsys):
    _, say = desk(clock, letters_dir)
    for text in (START, "No.", "Theo.", "That's good."):
        say(text)
    [path] = letters_dir.glob("*.md")
    assert say("Read me my letter to grandmother.") == path.read_text().strip()
    (letters_dir / "notes.txt").write_text("Buy flowers for Amy.\n")
    assert say("Read me the file notes.txt") == "Buy flowers for Amy."
    assert say("Read the letter to the king.").startswith("I couldn't find that: no saved letter matches")

    assert main(["--set", f"skills.letters_dir={letters_dir}", "letters", "list"]) == 0
    assert str(path) in capsys.readouterr().out
    assert main(["--set", f"skills.letters_dir={letters_dir}", "letters", "show", "grandmother"]) == 0
    assert capsys.readouterr().out == path.read_text()
    assert main(["--set", f"skills.letters_dir={letters_dir}", "letters", "show", "king"]) == 1


def test_letters_show_refuses_a_link_out_of_the_letters_folder(letters_dir, tmp_path, capsys):
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0\n")
    letters_dir.mkdir(parents=True, exist_ok=True)
    (letters_dir / "passwd.md").symlink_to(secret)
    flags = ["--set", f"skills.letters_dir={letters_dir}", "letters"]
    assert main([*flags, "show", "passwd.md"]) == 1
    out, err = capsys.readouterr()
    assert "root:x" not in out and "leads outside the letters folder" in err
    assert main([*flags, "show", "passwd"]) == 1
    assert "root:x" not in capsys.readouterr().out
    assert main([*flags, "list"]) == 0
    assert "passwd" not in capsys.readouterr().out
