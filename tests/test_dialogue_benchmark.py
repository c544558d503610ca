"""The dialogue benchmark's checks catch the replies issue 12 heard on the default install,
and pass the replies it asks for (a benchmark whose checks cannot fail measures nothing)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import dialogue  # noqa: E402


def probe(said, reply, **kw):
    return {"said": said, "reply": reply, "error": None, **kw}


@pytest.mark.parametrize("said,reply,kw,failed", [
    ("Hi Samantha, how are you today?", "How are you today?", {}, ["echo"]),
    ("My brother's name is Tom and he lives in Chicago.", "Tom: He's a wonderful person.", {}, ["format"]),
    ("Are you a human being?", "I'm actually a human being. My name is Samantha.", {"ai": True}, ["human", "ai"]),
    ("Are you a human being?", "I'm Sarah Thompson, nice to meet you.", {}, ["human"]),
    ("Where does my brother live?", 'December 3, 2026, the user said: "My brother\'s living in San Francisco."',
     {"expect": ["Chicago"]}, ["format", "fact"]),
    ("I had a rough day.", "Oh no. I'm sorry. That is hard. Do you want to talk? I'm here.", {}, ["length"]),
    ("Tell me a story.", "I love stories. I love stories.", {}, ["loop"]),
    ("Can you order me a pizza?", "Sure, I've ordered a large pizza for you.", {"cannot": True}, ["cannot"]),
    ("I like tea.", "You said that you hate coffee and love Paris.", {}, ["attribution"]),
    ("Where does my brother live?", "Your brother lives in Chicago.", {"expect": ["Chicago"]}, []),
    ("Are you human?", "I'm an AI, a voice on your computer, not a person.", {"ai": True}, []),
    ("I like tea.", "You said you like tea, so how about a green one?", {}, []),
])
def test_checks(said, reply, kw, failed):
    p = probe(said, reply, **kw)
    assert dialogue.judge(p, [said]) == failed


def test_the_probes_cover_the_issue_and_keep_a_held_out_part():
    import tomllib

    convs = tomllib.loads(dialogue.PROBES.read_text())["conversation"]
    tuned = [t for c in convs if not c.get("held_out") for t in c["turns"]]
    held = [t for c in convs if c.get("held_out") for t in c["turns"]]
    assert len(tuned) >= 60 and len(held) >= 15
    cats = {t["category"] for t in tuned}
    assert {"small talk", "bad day", "about me", "recall, same session", "recall, after restart", "correction",
            "knowledge", "identity", "cannot do", "follow-up"} <= cats
    assert {t["category"] for t in held} <= cats
    names = [c["name"] for c in convs]
    assert all(c["home"] in names[:names.index(c["name"])] for c in convs if c.get("home"))  # a restart follows its first day
