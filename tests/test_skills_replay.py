"""Spoken requests (Piper-synthesised) through the real pipeline (VAD, Whisper, skills,
Piper) with the scripted LLM server: the skills answer, the LLM is not asked, and what they
stored is visible from the CLI afterwards."""

import json

import pytest

from companion.ops.cli import main

pytestmark = pytest.mark.slow


def replay(tmp_path, speech, base_url, *sentences, extra=()):
    out = tmp_path / "out"
    files = [speech(s) for s in sentences]
    assert main(["-q", "replay", *map(str, files), "--out", str(out), "--set", f"llm.base_url={base_url}",
                 "--set", "skills.timezone=Europe/Berlin", *extra]) == 0
    return [json.loads(line)["reply_text"] for line in (out / "transcript.jsonl").read_text().splitlines()]


def test_spoken_reminder_calendar_and_cancel(tmp_path, speech, scripted_llm, capsys):
    replies = replay(tmp_path, speech, scripted_llm.base_url,
                     "Remind me to call my sister tomorrow at six.",
                     "Yes.",
                     "In twenty minutes, remind me to take the bread out.",
                     "Cancel the bread reminder.",
                     "Put lunch with Amy on Friday at one.")
    assert replies[0].startswith("I'll remind you to call your sister tomorrow, ")
    assert replies[0].endswith(", at 6 pm. Right?")
    assert replies[1] == "Good, it's set."
    assert replies[2].startswith("I'll remind you to take the bread out in 20 minutes, at ")
    assert replies[3] == "Cancelled the reminder to take the bread out."
    assert replies[4].startswith("I've put lunch with Amy ") and replies[4].endswith(" at 1 pm on your calendar.")
    assert scripted_llm.requests == []  # every turn answered without the model
    capsys.readouterr()
    assert main(["--set", "skills.timezone=Europe/Berlin", "reminders", "list"]) == 0
    listed = capsys.readouterr().out
    assert "call my sister" in listed and "18:00" in listed and "bread" not in listed
    assert main(["--set", "skills.timezone=Europe/Berlin", "calendar", "list", "--days", "8"]) == 0
    assert "13:00-14:00  lunch with Amy" in capsys.readouterr().out


def test_spoken_letter_with_two_edits(tmp_path, speech, scripted_llm):
    replies = replay(tmp_path, speech, scripted_llm.base_url,
                     "Help me write a letter to my grandmother to thank her for the sweater.",
                     "No.",
                     "Theodore.",
                     "Make it warmer.",
                     "Change the last line to see you at Christmas.",
                     "That's good.",
                     extra=("--set", "skills.letters_llm=never", "--set", f"skills.letters_dir={tmp_path / 'letters'}"))
    assert replies[2].startswith("Here's the draft. Dear Grandmother,")
    assert "With all my love," in replies[3]
    assert "See you at Christmas." in replies[4]
    [saved] = (tmp_path / "letters").glob("*.md")
    assert replies[5].endswith(f"as {saved.name}.")
    paragraphs = saved.read_text().strip().split("\n\n")
    assert paragraphs[0] == "Dear Grandmother,"
    assert paragraphs[-2] == "See you at Christmas."
    assert paragraphs[-1] == "With all my love,\nTheodore"
    assert scripted_llm.requests == []
