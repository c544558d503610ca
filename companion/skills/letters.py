"""Letters written together by voice: a short interview (what for, anything to mention, how
to sign), a draft read aloud, spoken edits, and "that's good" saves it as Markdown in the
letters folder. The open draft is stored after every step (:class:`LetterDesk`), so a
restart loses nothing; "continue my letter" picks it up again.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from .drafting import Brief, LetterWriter, add_line, remove_last_line, replace_last_line
from .errors import SkillError
from .wording import best_matches, is_no, strip_edges

READ_LIMIT = 3000  # characters read aloud from a file before stopping


@dataclass(frozen=True)
class Draft:
    id: int
    recipient: str
    purpose: str
    details: str
    signature: str
    body: str
    stage: str  # purpose -> details -> signature -> editing -> saved | discarded

    @property
    def brief(self) -> Brief:
        return Brief(self.recipient, self.purpose, self.details, self.signature)


class LetterDesk:
    """Open drafts (SQLite) and saved letters (Markdown files in ``folder``)."""

    def __init__(self, db: sqlite3.Connection, folder: Path):
        self.db, self.folder = db, Path(folder)

    def open_draft(self) -> Draft | None:
        row = self.db.execute("SELECT * FROM letter_drafts WHERE stage NOT IN ('saved', 'discarded') "
                              "ORDER BY updated DESC, id DESC LIMIT 1").fetchone()
        return Draft(*(row[k] for k in ("id", "recipient", "purpose", "details", "signature", "body", "stage"))) if row else None

    def start(self, recipient: str, purpose: str, now: datetime) -> Draft:
        stage = "details" if purpose else "purpose"
        cur = self.db.execute("INSERT INTO letter_drafts (recipient, purpose, stage, updated) VALUES (?, ?, ?, ?)",
                              (recipient, purpose, stage, now.isoformat()))
        return self.update(Draft(cur.lastrowid, recipient, purpose, "", "", "", stage), now)

    def update(self, draft: Draft, now: datetime) -> Draft:
        self.db.execute("UPDATE letter_drafts SET purpose = ?, details = ?, signature = ?, body = ?, stage = ?, "
                        "updated = ? WHERE id = ?", (draft.purpose, draft.details, draft.signature, draft.body,
                                                     draft.stage, now.isoformat(), draft.id))
        return draft

    def save(self, draft: Draft, now: datetime) -> Path:
        """Write the letter to a new Markdown file (never over an older one) and close the draft."""
        self.folder.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r"[^a-z0-9]+", "-", re.sub(r"^(?:my|our|the)\s+", "", draft.recipient.lower())).strip("-") or "someone"
        stem = f"{now:%Y-%m-%d}-letter-to-{slug[:40]}"
        path = self.folder / f"{stem}.md"
        n = 2
        while path.exists():
            path, n = self.folder / f"{stem}-{n}.md", n + 1
        path.write_text(draft.body, encoding="utf-8")
        self.db.execute("UPDATE letter_drafts SET stage = 'saved', saved_path = ?, updated = ? WHERE id = ?",
                        (str(path), now.isoformat(), draft.id))
        return path

    def discard(self, draft: Draft, now: datetime) -> None:
        self.update(replace(draft, stage="discarded"), now)

    def saved(self) -> list[Path]:
        """The letters in the folder; a link that leads out of it (to /etc/passwd, say) is none."""
        return [p for p in self._files() if self._inside(p)]

    def _files(self) -> list[Path]:
        return sorted(self.folder.glob("*.md")) if self.folder.is_dir() else []

    def _inside(self, path: Path) -> bool:
        return path.resolve().is_relative_to(self.folder.resolve())

    def find(self, name: str) -> Path:
        """A saved letter by file name, or by words of its name ("grandmother")."""
        for p in self._files():
            if name in (p.name, p.stem) and not self._inside(p):
                raise SkillError(f"{p} leads outside the letters folder (to {p.resolve()}); only letters "
                                 f"inside {self.folder} are shown")
        letters = self.saved()
        exact = [p for p in letters if name in (p.name, p.stem)]
        matches = exact or best_matches(name, {p: p.stem.replace("-", " ") for p in letters})
        if not matches:
            raise SkillError(f"no saved letter matches {name!r} in {self.folder}; 'companion letters list' shows them")
        return matches[-1]  # the newest of equally good matches

    def read_file(self, name: str) -> str:
        """Text of a file the user names: a saved letter, or a path (absolute, ~, or in the letters folder)."""
        path = Path(name).expanduser()
        candidates = [path] if path.is_absolute() else [self.folder / path, Path.home() / path, path]
        for candidate in candidates:
            if candidate.is_file():
                try:
                    return candidate.read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError) as exc:
                    raise SkillError(f"cannot read {candidate} as text ({exc})") from None
        return self.find(name).read_text(encoding="utf-8")


_START = re.compile(r"\b(?:write|draft|compose|writing|start)\b.*\b(?:letter|note|card)\b")
_RECIPIENT = re.compile(r"\b(?:letter|note|card) (?:to|for) (?P<who>(?:my |our )?[\w'-]+(?: [A-Z][\w'-]+)?)"
                        r"(?:,? (?P<why>(?:to|about|for|because|saying|telling) .+?))?[.!?]*$", re.IGNORECASE)
_RESUME = re.compile(r"\b(?:continue|resume|back to|finish|open)\b.*\b(?:letter|draft)\b")
_READ_SAVED = re.compile(r"\bread\b.*\b(?:letter|file|note)\b(?: (?:to|for|called|named|about))? ?(?P<name>.*)$",
                         re.IGNORECASE)
_SAVE = re.compile(r"^(?:that's|that is|it's|it is|looks|sounds)? ?(?:good|great|perfect|fine|lovely|done)\b|"
                   r"\bsave (?:it|the letter|that)\b|\bi'?m happy with it\b|\bthat'?s it\b")
_READ_AGAIN = re.compile(r"\bread (?:it|that|the letter|the draft|me the letter|it to me)\b|\bagain\b|\bhow does it sound\b")
_LAST_LINE = re.compile(r"\b(?:change|replace|make) the (?:last|final) (?:line|sentence|paragraph) (?:to|into|say|with) (?P<new>.+)$",
                        re.IGNORECASE)
_ADD = re.compile(r"\b(?:add|also say|include|mention|put in)(?: a line)?(?: (?:saying|that says|that))? (?P<new>.+)$",
                  re.IGNORECASE)
_REMOVE_LAST = re.compile(r"\b(?:remove|delete|drop) the (?:last|final) (?:line|sentence|paragraph)\b")
_STYLES = {"warm": re.compile(r"\bwarmer|more (?:loving|affectionate|personal)\b"),
           "short": re.compile(r"\bshorter|more brief|briefer|too long\b"),
           "formal": re.compile(r"\bmore formal|more professional|less casual\b")}
_DISCARD = re.compile(r"\b(?:throw (?:it|the letter) away|discard|delete the (?:letter|draft)|scrap (?:it|the letter)|"
                      r"start over)\b")
_PAUSE = re.compile(r"\b(?:later|pause|stop|never mind|not now|let's stop)\b")


class LetterSkill:
    """The letter dialogue. While a letter is open it answers every turn (the user's answers
    and edits are free text); "let's finish it later" steps out and keeps the draft."""

    def __init__(self, desk: LetterDesk, writer: LetterWriter):
        self.desk, self.writer = desk, writer
        self._engaged = False  # a draft is open *and* we are talking about it this session

    @property
    def in_dialogue(self) -> bool:
        return self._engaged

    def handle(self, text: str, now: datetime) -> str | None:
        said = text.strip().lower().replace("’", "'")
        if self._engaged:
            draft = self.desk.open_draft()
            if draft is not None:
                return self._continue(draft, text, said, now)
            self._engaged = False
        if _RESUME.search(said):
            return self._resume(now)
        if _START.search(said):
            return self._start(text, now)
        if m := _READ_SAVED.search(text):
            name = strip_edges(re.sub(r"^(?:my|the|a)\s+", "", m["name"].strip(), flags=re.IGNORECASE))
            if name or "letter" in said:
                return self._read_saved(name or "letter")
        return None

    def _start(self, text: str, now: datetime) -> str:
        m = _RECIPIENT.search(text.strip())
        if not m:
            return "Who is the letter to? Say, for example, 'a letter to my grandmother to thank her for the sweater'."
        return self.begin(strip_edges(m["who"]), strip_edges(m["why"] or ""), now)

    def begin(self, recipient: str, purpose: str, now: datetime) -> str:
        """Open a draft and ask the first question; from here the letter dialogue hears every turn."""
        self._engaged = True
        return self._next_question(self.desk.start(recipient, purpose, now))

    @staticmethod
    def _next_question(draft: Draft) -> str:
        whom = re.sub(r"^my ", "your ", draft.recipient, flags=re.IGNORECASE)
        if draft.stage == "purpose":
            return f"A letter to {whom}. What would you like to tell them?"
        if draft.stage == "details":
            return "Lovely. Is there anything special you'd like me to mention? If not, just say no."
        return "And how would you like to sign it?"

    def _continue(self, draft: Draft, text: str, said: str, now: datetime) -> str:
        if _DISCARD.search(said):
            self.desk.discard(draft, now)
            self._engaged = False
            return "Okay, I've thrown that draft away."
        if draft.stage != "editing" and _PAUSE.search(said) or draft.stage == "editing" and _PAUSE.match(said):
            self._engaged = False
            return "All right, I'll keep the draft. Say 'continue my letter' when you want to go on."
        answer = strip_edges(text)
        if draft.stage == "purpose":
            return self._next_question(self.desk.update(replace(draft, purpose=answer, stage="details"), now))
        if draft.stage == "details":
            details = "" if is_no(said) or said.startswith(("nothing", "not really")) else answer
            return self._next_question(self.desk.update(replace(draft, details=details, stage="signature"), now))
        if draft.stage == "signature":
            signature = strip_edges(re.sub(r"^(?:sign it|just|from|with|signed)\s+", "", answer, flags=re.IGNORECASE))
            draft = replace(draft, signature=signature, stage="editing")
            draft = self.desk.update(replace(draft, body=self.writer.draft(draft.brief)), now)
            return f"Here's the draft. {draft.body.strip()} Shall I change anything, or is it good?"
        return self._edit(draft, text, said, now)

    def _edit(self, draft: Draft, text: str, said: str, now: datetime) -> str:
        if _SAVE.search(said):
            path = self.desk.save(draft, now)
            self._engaged = False
            return f"Saved. It's in your letters folder, {path.parent}, as {path.name}."
        if _READ_AGAIN.search(said) and not _LAST_LINE.search(text):
            return draft.body.strip()
        if m := _LAST_LINE.search(text):
            body = replace_last_line(draft.body, strip_edges(m["new"]).strip("'\""))
        elif _REMOVE_LAST.search(said):
            body = remove_last_line(draft.body)
        elif m := _ADD.search(text):
            body = add_line(draft.body, strip_edges(m["new"]))
        else:
            style = next((name for name, pattern in _STYLES.items() if pattern.search(said)), None)
            if style is None and self.writer.brain is None:
                return ("I can make it warmer, shorter or more formal, change the last line, add a line, "
                        "read it again, or save it when it's good.")
            body = self.writer.revise(draft.body, strip_edges(text), draft.signature, style)
        self.desk.update(replace(draft, body=body), now)
        return f"Here it is now. {body.strip()} Anything else?"

    def _resume(self, now: datetime) -> str:
        draft = self.desk.open_draft()
        if draft is None:
            return "There's no unfinished letter. Say 'help me write a letter to' someone to start one."
        self._engaged = True
        if draft.stage != "editing":
            return self._next_question(draft)
        return f"Here's where we were. {draft.body.strip()} Shall I change anything, or is it good?"

    def _read_saved(self, name: str) -> str:
        try:
            text = self.desk.read_file(name)
        except SkillError as exc:
            return f"I couldn't find that: {exc}."
        if len(text) > READ_LIMIT:
            return text[:READ_LIMIT].rsplit(" ", 1)[0] + " ... That's where I'll stop; the file is long."
        return text.strip()

    def start_announcements(self, now: datetime) -> list[str]:
        draft = self.desk.open_draft()
        if draft is None:
            return []
        whom = re.sub(r"^my ", "your ", draft.recipient, flags=re.IGNORECASE)
        return [f"Your letter to {whom} is still a draft; say 'continue my letter' to finish it."]

