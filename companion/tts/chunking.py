"""Text made for the ear: strip what cannot be spoken, and cut a token stream into
speakable pieces as early as is natural (first clause early, then whole sentences)."""

from __future__ import annotations

import re
from typing import Callable, Iterable, Iterator

_URL = re.compile(r"(https?://|www\.)\S+", re.I)
_CODE_BLOCK = re.compile(r"```.*?(```|$)", re.S)
_INLINE_CODE = re.compile(r"`([^`]*)`")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|~~)(?=\S)(.+?)(?<=\S)\1")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s*", re.M)
_BULLET = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+", re.M)
_QUOTE = re.compile(r"^\s*>\s?", re.M)
_EMOJI = re.compile("[\U0001F000-\U0001FAFF\U00002600-\U000027BF\U0001F900-\U0001F9FF\U00002B00-\U00002BFF\uFE0F\u200D]")
_STRAY = re.compile(r"[*#_~`|<>\[\]{}^\\]")
_ROLE_PREFIX = re.compile(r"^\s*(samantha|assistant)\s*:\s*", re.I)
_SPACES = re.compile(r"[ \t]+")


def clean_for_speech(text: str) -> str:
    """Remove markdown, emoji, URLs and markup so TTS reads only words."""
    text = _CODE_BLOCK.sub(" ", text)
    text = _INLINE_CODE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _URL.sub("the link", text)
    for _ in range(2):
        text = _EMPHASIS.sub(r"\2", text)
    text = _HEADING.sub("", text)
    text = _BULLET.sub("", text)
    text = _QUOTE.sub("", text)
    text = _EMOJI.sub("", text)
    text = _STRAY.sub(" ", text)
    text = _ROLE_PREFIX.sub("", text)
    text = text.replace("\n", " ")
    return _SPACES.sub(" ", text).strip()


_SENTENCE_END = re.compile(r"[.!?…]+[\"')\]]*\s+")
_CLAUSE_END = re.compile(r"[,;:—–]\s+")
# Words a reply often opens with. Released alone ("Oh," before "I'm sorry to hear that."), they
# start the sound at once: short to make, and usually ready in the opener cache.
INTERJECTIONS = ("Oh", "Oh no", "Oh dear", "Ah", "Aw", "Hmm", "Mm", "Well", "Okay", "OK", "Sure", "Yes", "Yeah", "No",
                 "Right", "So", "Wow", "Hey", "Hi", "Hello", "Alright", "All right", "Of course", "Honestly", "Actually")
_INTERJECTION = re.compile(r"^\s*(?:" + "|".join(sorted(map(re.escape, INTERJECTIONS), key=len, reverse=True)) + r"),\s+")
_ABBREV = re.compile(r"\b(?:Mr|Mrs|Ms|Dr|St|Jr|Sr|vs|etc|e\.g|i\.e|No)\.\s+$", re.I)


class SpeechChunker:
    """Accumulates text deltas and releases speakable chunks.

    The first chunk may end at a clause boundary once it has ``first_clause_min`` words, or
    after an opening interjection ("Oh,", and then the first clause), so the first audio starts
    sooner; later chunks are whole sentences (better prosody).
    """

    def __init__(self, first_clause_min: int = 2, max_chars: int = 240, first_words: int = 0):
        """``first_words``: for a voice slow to start (Kokoro: ~0.35 s plus half the audio's
        length), a first sentence with no early comma is cut before a joining word ("that",
        "because", "and", ...) once it has this many words; 0 = never."""
        self.first_clause_min = first_clause_min
        self.first_words = first_words
        self.max_chars = max_chars
        self._buf = ""
        self._emitted = 0
        self._interjections = 0

    def push(self, delta: str) -> list[str]:
        self._buf += delta
        out = []
        while True:
            piece = self._take()
            if piece is None:
                return out
            if piece:
                out.append(piece)

    def flush(self) -> list[str]:
        rest, self._buf = clean_for_speech(self._buf), ""
        if rest:
            self._emitted += 1
            return [rest]
        return []

    def _take(self) -> str | None:
        buf = self._buf
        cut = None
        for m in _SENTENCE_END.finditer(buf):
            if not _ABBREV.search(buf[:m.end()]):
                cut = m.end()
                break
        opening = self._emitted == self._interjections  # nothing but interjections released yet
        if opening and self._interjections == 0 and (m := _INTERJECTION.match(buf)):
            cut = m.end()
            self._interjections = 1  # the clause after it may still be cut short
        if cut is None and opening:
            for m in _CLAUSE_END.finditer(buf):
                if len(buf[:m.start()].split()) >= self.first_clause_min:
                    cut = m.end()
                    break
        if opening and self.first_words:  # streamed, the joining word comes before the sentence's end
            joint = _joint(buf[:cut] if cut is not None else buf, self.first_words)
            cut = joint if joint is not None and (cut is None or joint < cut) else cut
        if cut is None and len(buf) > self.max_chars:
            space = buf.rfind(" ", 0, self.max_chars)
            cut = space + 1 if space > 0 else self.max_chars
        if cut is None:
            return None
        piece, self._buf = clean_for_speech(buf[:cut]), buf[cut:]
        if piece:
            self._emitted += 1
        return piece


# words a sentence can be cut before and still sound whole on both sides
_JOINT = re.compile(r"\s+(?=(?:that|which|who|because|but|when|where|while|if|so|since|and|or|with|for)\s)", re.I)


def _joint(buf: str, min_words: int) -> int | None:
    """Where to cut the first sentence short: before the first joining word that follows at
    least ``min_words`` words (two more for "and"/"or"), else ``None``."""
    for m in _JOINT.finditer(buf):
        joining = buf[m.end():].split(None, 1)[0].lower()
        # "and"/"or" often join two words ("a vast and deep sea"): only later in the sentence
        if len(buf[:m.start()].split()) >= min_words + (2 if joining in ("and", "or") else 0):
            return m.end()
    return None


def speakable_chunks(deltas: Iterable[str], on_first_delta: Callable[[], None] | None = None,
                     **kw) -> Iterator[str]:
    """The one place a reply's text deltas become speakable pieces (a reply, a thought made
    ahead); ``on_first_delta`` is called when the first delta arrives (time to first token).
    A stream that raises stops here without flushing: the rest is never said."""
    chunker = SpeechChunker(**kw)
    for d in deltas:
        if on_first_delta is not None:
            on_first_delta()
            on_first_delta = None
        yield from chunker.push(d)
    yield from chunker.flush()


_CLAUSE_SPLIT = re.compile(r"(?<=[,;:—–])\s+")


def short_pieces(text: str, max_words: int) -> list[str]:
    """``text`` cut at its sentence ends, and a sentence of more than ``max_words`` words at its
    clauses (joined again while they fit), then between words. For an engine that makes a whole
    piece in one call: stopping takes effect between pieces, so a piece is as long as a
    barge-in may have to wait for the engine."""
    pieces: list[str] = []
    for sentence in _sentences(text):
        if not sentence:
            continue
        if len(sentence.split()) <= max_words:
            pieces.append(sentence)
            continue
        current: list[str] = []
        for clause in _CLAUSE_SPLIT.split(sentence):
            words = clause.split()
            if current and len(current) + len(words) > max_words:
                pieces.append(" ".join(current))
                current = []
            current += words
            while len(current) > max_words:
                pieces.append(" ".join(current[:max_words]))
                current = current[max_words:]
        if current:
            pieces.append(" ".join(current))
    return pieces


def _sentences(text: str) -> Iterator[str]:
    """``text``'s sentences, not cut after an abbreviation ("Dr. Smith")."""
    start = 0
    for m in _SENTENCE_END.finditer(text):
        if not _ABBREV.search(text[:m.end()]):
            yield text[start:m.end()].strip()
            start = m.end()
    yield text[start:].strip()
