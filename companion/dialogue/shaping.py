"""Replies shaped for speech, whatever the model: at most three whole sentences, and no
reply that is an echo of the user, a role prefix, a loop, a claim to be human, or empty.

The first clause is synthesised while the rest streams, so the check runs on the first
clause before it is released (an echo, a role prefix or a human claim shows there); a
degenerate start is asked for once more, and a second one is replaced by the persona's short
honest line. Later sentences are released whole, as they end: a loop, a human claim, or a sentence that
would take the reply past fifty words ends the reply there, and so does the third sentence; an unfinished tail (``max_tokens`` cut it, or
a stop sequence) is never spoken.
"""

from __future__ import annotations

import logging
import re
from typing import Callable, Iterable, Iterator

from ..cancel import Cancel
from ..tts.chunking import _ABBREV, _CLAUSE_END, _SENTENCE_END

log = logging.getLogger(__name__)

MAX_SENTENCES = 3
MAX_WORDS = 50  # about 15 seconds of speech: a later sentence that would go past it is not said
FIRST_CHECK_WORDS = 12  # a first clause longer than this without punctuation is checked as it stands

_OWN_PREFIX = re.compile(r"^\s*(?:samantha|assistant|ai)\s*:\s*", re.I)
_ROLE_PREFIX = re.compile(r"^\s*[A-Z][\w'.-]*(?: [A-Z][\w'.-]*)?\s*:(?:\s|$)")
_ROLE_INSIDE = re.compile(r"(?:^|\s)(?:User|USER|Human|HUMAN)\s*:|\bthe user (?:said|says|asked|told|mentioned|wants|is asking)\b"
                          r"|^\s*here(?:'s| is) (?:a |my |one )?(?:possible |sample |suggested )?(?:response|reply|answer)\b", re.I)
_HUMAN_CLAIM = re.compile(
    r"\bI(?:'m| am)\s+(?:actually\s+|really\s+|just\s+|also\s+)?(?:a\s+)?(?:real\s+)?"
    r"(?:human(?:\s+being)?|person|man|woman|girl|guy|lady)\b"
    r"|\bI(?:'m| am)\s+not\s+(?:an?\s+)?(?:ai|a\.i\.|robot|machine|computer|program|bot|chatbot|artificial)\b"
    r"|\bI have (?:a|my own) (?:body|family|husband|wife|boyfriend|girlfriend|kids|children)\b"
    r"|\bmy (?:husband|wife|boyfriend|girlfriend|son|daughter|kids|children|mom|mum|mother|dad|father|parents|family"
    r"|sister|brother|grandma|grandmother|grandpa|grandfather|boss|office|job|house|apartment|childhood|hometown)\b"
    r"|\bI (?:\w+ )?(?:love|enjoy|like) (?:playing|to play) (?:the )?(?:guitar|piano|drums|violin|cello|bass|flute"
    r"|saxophone|trumpet|tennis|soccer|football|basketball|golf)\b"  # hands she does not have
    r"|\bI work (?:as|at|for)\b|\bI (?:live|lived|reside) (?:in|on|at|with|near)\b|\bI (?:grew up|was born)\b"
    r"|\bwhen I was (?:a (?:kid|child|girl|boy|teenager)|little|young|growing up)\b|\bsince I was (?:a )?\w+\b"
    r"|\bI(?:'m| am) an? (?:\w+ )?(?:engineer|teacher|writer|doctor|nurse|developer|designer|student|manager|lawyer|chef|artist)\b"
    r"|(?-i:\bI(?:'m| am) [A-Z][a-z]+ [A-Z][a-z]+\b)", re.I)  # "I'm Sarah Thompson": someone else's life
_WORD = re.compile(r"[a-z0-9']+")
# the tone must fit the user's words: no cheer for a bad day, no condolence where nothing was lost
_DISTRESS = re.compile(r"\b(?:sad|unhappy|lonely|alone|rough|awful|terrible|horrible|worst|embarrass\w*|exhausted|stress\w*"
                       r"|anxious|worried|upset|angry|hurt|cry\w*|cried|depress\w*|scared|afraid|yell\w*|fired|sick"
                       r"|miss (?:him|her|them)|broke up|bad day|hard day|don't know if I)\b", re.I)
_CONDOLENCE = re.compile(r"\bsorry for your loss\b", re.I)
_LOSS = re.compile(r"\b(?:died|dead|death|passed away|lost|loss|funeral|put down)\b", re.I)
# the user's words taken as text to correct ("You can say, My boss yelling at me instead of…"): no answer at all
_WRITING_TIP = re.compile(r"^\W*(?:you (?:can|could|might|should|may) (?:say|rephrase|write|use|add|try saying)\b"
                          r"|(?:a )?better (?:way to say|phrasing)\b|(?:that's|that is) not how I'd (?:describe|say|put) it\b"
                          r"|here(?:'s| is) (?:how you|what you can|a better|an? (?:example|corrected|rewritten))\b"
                          r"|here(?:'s| is) (?:a |an |the |your )?(?:possible |suggested )?(?:rephrased|revised|rewritten|"
                          r"corrected|edited|polished|improved|refined) (?:version|sentence|text)\b)", re.I)
# a reply to a sad turn starts with care, whatever the model ("Oh no", "That sounds hard", "I'm sorry")
_CARING = re.compile(r"^\W*(?:oh,?\s+)?(?:no|oh no|I'm (?:so |really |very )?sorry|sorry|that (?:sounds|must)"
                     r"|that(?:'s| is) (?:so |really )?(?:hard|tough|awful|rough|terrible|difficult|a lot)|how (?:awful|hard|horrible)"
                     r"|I'm (?:here|listening|with you)|I hear you|I understand|I can (?:imagine|tell|hear)|it's (?:okay|ok|alright|normal"
                     r"|understandable)|you(?:'re| are) not alone|ugh|aw|aww|poor you|what a (?:rough|hard|tough|horrible|awful))\b", re.I)
# the model answering something else: instructions from its training, thanks no one gave
_OFF = re.compile(r"^\W*(?:(?:in )?your (?:response|answer|reply) (?:should|must)|you're welcome\b|I'm glad you enjoyed my)", re.I)
_THANKS = re.compile(r"\b(?:thank|thanks|cheers|appreciate)", re.I)
COMFORT = ("I'm sorry, that sounds really hard. Do you want to tell me about it?",  # for a sad turn the model failed
           "That sounds tough. I'm here, and I'm listening.",
           "I'm sorry you're going through that. What's weighing on you most?",
           "That's a lot to carry. Take your time, I'm right here.")
# marks a voice does not say, which a small model writes anyway: quotes, markdown, brackets, list bullets
_UNSPOKEN = re.compile(r"[\"“”*#`_\[\]{}<>|]+|(?:^|(?<=\n))\s*[-•]\s+")


def for_speech(piece: str) -> str:
    """``piece`` without what is written but never said ('You could say "no thanks"' is said
    without the quotes), so the transcript holds what she said."""
    return _UNSPOKEN.sub("", piece)


def stop_sequences(name: str, embedded: bool) -> list[str]:
    """Where a reply must end: the model starting the user's next line or its own next turn.
    OpenAI's API takes four stop sequences; llama.cpp's server takes more."""
    stops = ["User:", "\nUser", f"\n{name}:", "\nHuman:"]
    return stops + ["USER:", "Human:", "\nuser:", "<|im_start|>"] if embedded else stops


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("’", "'"))


def is_echo(reply: str, user: str) -> bool:
    """The reply repeats the user's words: three words or more, every one of them the user's
    ("How are you, Samantha?" to "Hi Samantha, how are you today?"). An answer brings a word
    of its own ("The capital of France is Paris.")."""
    said, heard = words(reply), set(words(user))
    return len(said) >= 3 and all(w in heard for w in said)


def problem(start: str, user: str) -> str | None:
    """What is wrong with the start of a reply (its first clause or sentence), or ``None``."""
    text = _OWN_PREFIX.sub("", start).strip()
    if not words(text):
        return "empty"
    if _ROLE_PREFIX.match(text) or _ROLE_INSIDE.search(text):
        return "role prefix"
    if _HUMAN_CLAIM.search(text):
        return "claims to be human"
    if is_echo(text, user):
        return "echo"
    if _WRITING_TIP.search(text):
        return "writing tip"
    if _OFF.search(text) and not (text.lower().lstrip(" !.").startswith("you're welcome") and _THANKS.search(user)):
        return "answers something else"
    if _CONDOLENCE.search(text) and not _LOSS.search(user):
        return "condolence for no loss"
    if _DISTRESS.search(user) and not _CARING.search(text):
        return "no care for a sad turn"
    return None


def _loops(sentence: str, earlier: list[str]) -> bool:
    """The same sentence again, or one phrase of three words said three times within it."""
    said = words(sentence)
    if said and any(words(e) == said for e in earlier):
        return True
    grams = [" ".join(said[i:i + 3]) for i in range(len(said) - 2)]
    return any(grams.count(g) >= 3 for g in set(grams))


def _sentence_end(buf: str, final: bool) -> int | None:
    """Where the first sentence in ``buf`` ends (after its trailing space), as the chunker cuts."""
    for m in _SENTENCE_END.finditer(buf):
        if not _ABBREV.search(buf[:m.end()]):
            return m.end()
    if final and re.search(r"[.!?…][\"')\]]*\s*$", buf):
        return len(buf)
    return None


def _first_clause_ready(buf: str) -> bool:
    if _sentence_end(buf, False) is not None or len(buf.split()) > FIRST_CHECK_WORDS:
        return True
    return any(len(buf[:m.start()].split()) >= 2 for m in _CLAUSE_END.finditer(buf))


class Degenerate(Exception):
    """The reply started badly; asked for once more."""


def _repeats(start: str, earlier: list[str]) -> bool:
    """The start of the reply is a sentence she already said this conversation (a small model
    copies its own last reply: "How about tomorrow? What's up?" to every turn): a whole sentence
    of three words or more said again, or the first five words or more of one."""
    end = _sentence_end(start, True)  # the first sentence, when the start holds the next one's first word too
    start = start[:end] if end is not None else start
    said = words(start)
    whole = end is not None
    if len(said) < 3 or (len(said) < 5 and not whole):  # "Oh no," may open many replies
        return False
    for reply in earlier:
        for sentence in _sentences([reply + " "]) or [reply]:
            before = words(sentence)
            if before == said or (len(said) >= 5 and before[:len(said)] == said):
                return True
    return False


def _shape(deltas: Iterable[str], user: str, earlier: list[str] = ()) -> Iterator[str]:
    """One attempt: raises :class:`Degenerate` before anything is released when the start is
    bad; otherwise yields the text to speak and stops after the third sentence."""
    buf, released, said = "", False, []
    stream = iter(deltas)
    try:
        for delta in stream:
            buf += delta
            if not released:
                if not _first_clause_ready(buf.lstrip()):
                    continue
                buf = _OWN_PREFIX.sub("", buf.lstrip())
                why = problem(buf, user) or ("repeats an earlier reply" if _repeats(buf, earlier) else None)
                if why is not None:
                    raise Degenerate(why)
                released = True
                end = _sentence_end(buf, False)
                if end is None:  # the rest of the first sentence streams through (it is already playing)
                    yield buf
                    said.append(buf)
                    buf = ""
                    continue
            while (end := _sentence_end(buf, False)) is not None:
                sentence, buf = buf[:end], buf[end:]
                too_long = _sentences(said) and len(words("".join(said) + sentence)) > MAX_WORDS
                if said and (too_long or _loops(sentence, _sentences(said))
                             or problem(sentence, "") in ("role prefix", "claims to be human")):
                    log.info("reply cut before %r", sentence.strip())
                    return
                yield sentence
                said.append(sentence)
                if len(_sentences(said)) >= MAX_SENTENCES:
                    return
        if not released:  # the whole reply was shorter than one clause
            buf = _OWN_PREFIX.sub("", buf.lstrip())
            why = problem(buf, user)
            if why is not None:
                raise Degenerate(why)
            yield buf
            return
        end = _sentence_end(buf, True)
        if end is not None and not (_loops(buf, _sentences(said)) or problem(buf, "") is not None
                                    or len(words("".join(said) + buf)) > MAX_WORDS):
            yield buf  # the last sentence, finished at the end of the stream
        elif buf.strip() and not _sentences(said):
            yield buf  # the first sentence never ended: what was begun is finished in words
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()  # the endpoint stops writing what will not be said


def _sentences(said: list[str]) -> list[str]:
    """The whole sentences among the released pieces (the first sentence may be several)."""
    text, out = "".join(said), []
    while (end := _sentence_end(text, False)) is not None:
        out.append(text[:end])
        text = text[end:]
    return out


def shaped(attempt: Callable[[], Iterable[str]], user: str, fallback: str, cancel: Cancel,
           earlier: list[str] = ()) -> Iterator[str]:
    """The reply's text deltas, shaped for speech: ``attempt()`` opens a model stream; a
    degenerate start is retried once, then ``fallback`` is said instead. A stream that ended
    because the reply was cancelled (barge-in, a dropped thought) is not asked for again."""
    for n in range(2):
        try:
            yield from (cleaned for piece in _shape(attempt(), user, list(earlier)) if (cleaned := for_speech(piece)))
            return
        except Degenerate as exc:
            if cancel.cancelled:
                return
            log.info("degenerate reply (%s)%s", exc, ", asking again" if n == 0 else ", saying the fallback line")
    if _DISTRESS.search(user):  # a kind line she has not just said
        yield next((line for line in COMFORT if line not in earlier), COMFORT[0])
    else:
        yield fallback
