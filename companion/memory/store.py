"""The memory database: one SQLite file (WAL, mode 0600) holding users, sessions, every turn,
facts with validity periods, and session summaries. Each write commits before it returns, so
a crash or ``kill -9`` loses nothing already written; all access goes through one lock so the
reply path and the background writer can share the connection."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..database import migrate, open_database
from .migrations import MIGRATIONS
from .relations import aliases

DB_NAME = "memory.sqlite3"
EXPORT_FORMAT = "companion-memory"
EXPORT_VERSION = 1
_TABLES = ("users", "sessions", "turns", "facts", "summaries")  # parents before children


class MemoryError(RuntimeError):
    """The memory database cannot be opened or a request on it is invalid; says what to do."""


@dataclass(frozen=True)
class Fact:
    id: int
    subject: str
    attribute: str
    value: str
    source_turn_id: int | None
    origin: str
    valid_from: str
    valid_to: str | None


@dataclass(frozen=True)
class Snippet:
    """A stored turn found by search."""

    turn_id: int
    session_id: int
    role: str
    text: str
    created_at: str


def stamp(when: datetime) -> str:
    return when.isoformat(timespec="seconds")


class MemoryStore:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            self.db = open_database(self.path)  # private, WAL, durable; a damaged file is moved aside
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA foreign_keys=ON")
            migrate(self.db, MIGRATIONS)
        except (OSError, sqlite3.Error) as exc:
            raise MemoryError(f"cannot open the memory database {self.path} ({exc}); check the data directory's "
                              "permissions and free space, and close other programs using it") from None
        self.lock = threading.RLock()
        self.user_id = self._default_user()

    def close(self) -> None:
        with self.lock:
            self.db.close()

    @contextmanager
    def transaction(self):
        """One atomic write under the lock: committed (durably) on exit, rolled back on error.
        Nested calls join the outer transaction."""
        with self.lock:
            if self.db.in_transaction:
                yield self.db
                return
            with transaction(self.db):
                yield self.db

    def _write(self, sql: str, params=()) -> sqlite3.Cursor:
        with self.transaction() as db:
            return db.execute(sql, params)

    def _rows(self, sql: str, params=()) -> list[sqlite3.Row]:
        with self.lock:
            return self.db.execute(sql, params).fetchall()

    def _default_user(self) -> int:
        row = self._rows("SELECT id FROM users ORDER BY id LIMIT 1")
        if row:
            return row[0]["id"]
        return self._write("INSERT INTO users (created_at) VALUES (?)", (stamp(datetime.now()),)).lastrowid

    # -- sessions and turns ----------------------------------------------------------------
    def start_session(self, now: datetime) -> int:
        with self.transaction():  # a session left open by a crash ends at its last turn
            self.db.execute("UPDATE sessions SET ended_at = COALESCE((SELECT MAX(created_at) FROM turns "
                            "WHERE session_id = sessions.id), started_at) WHERE ended_at IS NULL")
            return self.db.execute("INSERT INTO sessions (user_id, started_at) VALUES (?, ?)",
                                   (self.user_id, stamp(now))).lastrowid

    def end_session(self, session_id: int, now: datetime) -> None:
        self._write("UPDATE sessions SET ended_at = ? WHERE id = ?", (stamp(now), session_id))

    def delete_session(self, session_id: int) -> None:
        """Erase a session with its turns, the facts taken from them, and its summary."""
        with self.transaction():
            self.db.execute("DELETE FROM facts WHERE source_turn_id IN (SELECT id FROM turns WHERE session_id = ?)",
                            (session_id,))
            self.db.execute("DELETE FROM turns WHERE session_id = ?", (session_id,))
            self.db.execute("DELETE FROM summaries WHERE session_id = ?", (session_id,))

    def add_turn(self, session_id: int, role: str, text: str, now: datetime, spoken: str | None = None) -> int:
        return self._write("INSERT INTO turns (session_id, role, text, spoken, created_at) VALUES (?, ?, ?, ?, ?)",
                           (session_id, role, text, spoken, stamp(now))).lastrowid

    def session_turns(self, session_id: int, last: int = -1) -> list[Snippet]:
        """A session's turns in order; only the ``last`` few when given."""
        rows = self._rows("SELECT id, session_id, role, text, created_at FROM turns WHERE session_id = ? "
                          "ORDER BY id DESC LIMIT ?", (session_id, last))
        return [_snippet(r) for r in reversed(rows)]

    def previous_session(self, before: int | None) -> tuple[int, str] | None:
        """The latest session before ``before`` that has turns, and its last turn's time
        (index lookups only: this runs before every reply)."""
        row = self._rows("SELECT MAX(session_id) FROM turns WHERE session_id < ?", (before if before else 2 ** 62,))
        if row[0][0] is None:
            return None
        last = self._rows("SELECT created_at FROM turns WHERE session_id = ? ORDER BY id DESC LIMIT 1", (row[0][0],))
        return row[0][0], last[0][0]

    def search_turns(self, match: str, limit: int, exclude_session: int | None = None, after_id: int = 0,
                     role: str | None = None) -> list[Snippet]:
        """Turns matching an FTS5 expression (and newer than ``after_id``; only ``role``'s when
        given), best BM25 first. The ranked inner query lets FTS5 stop early; the outer one drops
        the conversation in progress (its turns are in the history already)."""
        if not match:
            return []
        return [_snippet(r) for r in self._rows(
            "SELECT t.id, t.session_id, t.role, t.text, t.created_at FROM "
            "(SELECT rowid, rank FROM turns_fts WHERE turns_fts MATCH ? AND rowid > ? ORDER BY rank LIMIT ?) f "
            "JOIN turns t ON t.id = f.rowid WHERE t.session_id IS NOT ? AND t.role = COALESCE(?, t.role) "
            "ORDER BY f.rank LIMIT ?", (match, after_id, limit * 4 + 20, exclude_session, role, limit))]

    def turns_with(self, term: str, cap: int) -> int:
        """How many turns contain ``term`` (an FTS5 phrase), counting no further than ``cap``."""
        return self._count_matches("turns_fts", term, cap)

    def facts_with(self, term: str, cap: int) -> int:
        """How many facts (current or not) contain ``term``, counting no further than ``cap``."""
        return self._count_matches("facts_fts", term, cap)

    def _count_matches(self, index: str, term: str, cap: int) -> int:
        return self._rows(f"SELECT COUNT(*) FROM (SELECT rowid FROM {index} WHERE {index} MATCH ? LIMIT ?)",
                          (term, cap + 1))[0][0]

    def last_fact_id(self) -> int:
        return self._rows("SELECT COALESCE(MAX(id), 0) FROM facts")[0][0]

    def last_turn_id(self) -> int:
        return self._rows("SELECT COALESCE(MAX(id), 0) FROM turns")[0][0]

    # -- facts -----------------------------------------------------------------------------
    def add_fact(self, attribute: str, value: str, now: datetime, *, single: bool, source_turn_id: int | None = None,
                 origin: str = "rule", subject: str = "user", closes: tuple[str, ...] = ()) -> Fact:
        """Record a fact. The same current value is not stored twice; for a ``single``-valued
        attribute a new value closes the old one (kept, with ``valid_to``), never deletes it.
        ``closes`` names other attributes whose equal value becomes invalid (likes vs dislikes).
        A relation is the same one under any of its words ("mom" kept by an older database is
        replaced by "mother")."""
        subjects, attributes = aliases(subject), aliases(attribute)
        who = f"subject IN ({_marks(subjects)})"
        with self.transaction():
            same = self.db.execute(f"SELECT * FROM facts WHERE user_id = ? AND {who} AND attribute IN ({_marks(attributes)}) "
                                   "AND lower(value) = lower(?) AND valid_to IS NULL",
                                   (self.user_id, *subjects, *attributes, value)).fetchone()
            if same:
                return _fact(same)
            if single:
                self.db.execute(f"UPDATE facts SET valid_to = ? WHERE user_id = ? AND {who} "
                                f"AND attribute IN ({_marks(attributes)}) AND valid_to IS NULL",
                                (stamp(now), self.user_id, *subjects, *attributes))
            for other in closes:
                self.db.execute(f"UPDATE facts SET valid_to = ? WHERE user_id = ? AND {who} AND attribute = ? "
                                "AND lower(value) = lower(?) AND valid_to IS NULL",
                                (stamp(now), self.user_id, *subjects, other, value))
            cur = self.db.execute("INSERT INTO facts (user_id, subject, attribute, value, source_turn_id, origin, valid_from) "
                                  "VALUES (?, ?, ?, ?, ?, ?, ?)", (self.user_id, subject, attribute, value, source_turn_id, origin, stamp(now)))
            return _fact(self.db.execute("SELECT * FROM facts WHERE id = ?", (cur.lastrowid,)).fetchone())

    def facts(self, *, current: bool = True) -> list[Fact]:
        where = "AND valid_to IS NULL" if current else ""
        return [_fact(r) for r in self._rows(f"SELECT * FROM facts WHERE user_id = ? {where} ORDER BY id", (self.user_id,))]

    def relation_facts(self, relations: tuple[str, ...]) -> list[Fact]:
        """The user's current relations ("sister: Susan"), by the index on attributes: whom "she"
        and "my sister" mean, at a cost that does not grow with the rest of the memory."""
        marks = _marks(relations)
        return [_fact(r) for r in self._rows(
            f"SELECT * FROM facts WHERE user_id = ? AND valid_to IS NULL AND attribute IN ({marks}) "
            "AND subject = 'user' ORDER BY id", (self.user_id, *relations))]

    def profile_facts(self, core: tuple[str, ...], newest: int) -> list[Fact]:
        """Current facts for the profile at a cost that does not grow with the memory: every
        one whose attribute is in ``core``, then the ``newest`` others (newest first)."""
        marks = _marks(core)
        rows = self._rows(f"SELECT * FROM facts WHERE user_id = ? AND valid_to IS NULL AND attribute IN ({marks}) "
                          "ORDER BY id", (self.user_id, *core))
        # NOT INDEXED: walk the table from its newest row and stop at the limit (the attribute index
        # would sort every current fact first)
        rows += self._rows(f"SELECT * FROM facts NOT INDEXED WHERE user_id = ? AND valid_to IS NULL AND attribute NOT IN ({marks}) "
                           "ORDER BY id DESC LIMIT ?", (self.user_id, *core, newest))
        return [_fact(r) for r in rows]

    def search_facts(self, match: str, limit: int, after_id: int = 0) -> list[Fact]:
        """Current facts matching an FTS5 expression (and newer than ``after_id``), best first."""
        if not match:
            return []
        return [_fact(r) for r in self._rows(
            "SELECT facts.* FROM facts_fts JOIN facts ON facts.id = facts_fts.rowid WHERE facts_fts MATCH ? "
            "AND facts_fts.rowid > ? AND facts.valid_to IS NULL ORDER BY facts_fts.rank LIMIT ?", (match, after_id, limit))]

    def add_facts(self, facts, now: datetime, source_turn_id: int | None, origin: str) -> None:
        """Record the facts read from one turn (``rules.FactCandidate``s) in one transaction. A
        relation learned with its name ("my sister's name is Susan") takes over what was told
        about "my sister" before the name was known (its history too), under any word for it."""
        with self.transaction() as db:
            for f in facts:
                self.add_fact(f.attribute, f.value, now, single=f.single, source_turn_id=source_turn_id,
                              origin=origin, subject=f.subject, closes=f.closes)
                if f.subject == "user" and f.value != f.attribute:
                    told = aliases(f.attribute)
                    db.execute(f"UPDATE facts SET subject = ? WHERE user_id = ? AND subject IN ({_marks(told)})",
                               (f.value, self.user_id, *told))

    def known_names(self, relations: tuple[str, ...], most: int) -> list[str]:
        """Names in current facts, most recently told first: the user's and their people's
        names (``relations``), and the places and employers they named (capitalised values)."""
        marks = _marks(relations)
        rows = self._rows(
            "SELECT value, MAX(id) AS latest FROM facts WHERE user_id = ? AND valid_to IS NULL AND "
            f"((subject = 'user' AND attribute IN ('name', {marks})) OR attribute IN ('lives_in', 'hometown', 'employer')) "
            "GROUP BY lower(value) ORDER BY latest DESC", (self.user_id, *relations))
        names = [r["value"] for r in rows if all(w[:1].isupper() for w in r["value"].split()[:3])]
        return names[:most]

    def facts_by_id(self, ids: list[int]) -> list[Fact]:
        marks = _marks(ids)
        return [_fact(r) for r in self._rows(f"SELECT * FROM facts WHERE id IN ({marks}) ORDER BY id", ids)]

    def delete_facts(self, ids: list[int]) -> int:
        """Delete facts (not the turns they were heard in); returns how many went."""
        return self._write(f"DELETE FROM facts WHERE id IN ({_marks(ids)})", ids).rowcount

    def turns_matching(self, match: str) -> list[sqlite3.Row]:
        """Every turn matching an FTS5 expression, with what was heard of it (id, text, spoken)."""
        return self._rows("SELECT t.id, t.text, t.spoken FROM turns_fts JOIN turns t ON t.id = turns_fts.rowid "
                          "WHERE turns_fts MATCH ? ORDER BY t.id", (match,)) if match else []

    def revise_turn(self, turn_id: int, text: str, spoken: str | None) -> None:
        """Replace a turn's words (and what was heard of them); a turn left without words goes,
        and facts heard in it only lose their source."""
        if text.strip():
            self._write("UPDATE turns SET text = ?, spoken = ? WHERE id = ?", (text, spoken, turn_id))
        else:
            self._write("DELETE FROM turns WHERE id = ?", (turn_id,))

    def delete_turns(self, ids: list[int]) -> int:
        """Delete turns and the facts taken from them; returns how many facts went."""
        with self.transaction() as db:
            marks = _marks(ids)
            gone = db.execute(f"DELETE FROM facts WHERE source_turn_id IN ({marks})", ids).rowcount
            db.execute(f"DELETE FROM turns WHERE id IN ({marks})", ids)
            return gone

    # -- summaries -------------------------------------------------------------------------
    def add_summary(self, session_id: int, text: str, origin: str, now: datetime) -> None:
        self._write("INSERT INTO summaries (session_id, text, origin, created_at) VALUES (?, ?, ?, ?)",
                    (session_id, text, origin, stamp(now)))

    def summary(self, session_id: int) -> str | None:
        rows = self._rows("SELECT text FROM summaries WHERE session_id = ? ORDER BY id DESC LIMIT 1", (session_id,))
        return rows[0]["text"] if rows else None

    def summaries(self) -> list[tuple[int, str]]:
        return [(r["id"], r["text"]) for r in self._rows("SELECT id, text FROM summaries ORDER BY id")]

    def revise_summary(self, summary_id: int, text: str) -> None:
        if text.strip():
            self._write("UPDATE summaries SET text = ? WHERE id = ?", (text, summary_id))
        else:
            self._write("DELETE FROM summaries WHERE id = ?", (summary_id,))

    # -- whole database --------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        return {t: self._rows(f"SELECT COUNT(*) FROM {t}")[0][0] for t in _TABLES}

    def wipe(self) -> None:
        """Delete everything the user ever said or was remembered; the schema stays."""
        with self.transaction():
            for table in reversed(_TABLES):
                self.db.execute(f"DELETE FROM {table}")
            for index in ("turns_fts", "facts_fts"):
                self.db.execute(f"INSERT INTO {index}({index}) VALUES ('delete-all')")
        with self.lock:
            self.db.execute("VACUUM")  # deleted text must not linger in free pages
        self.user_id = self._default_user()

    def export(self) -> dict:
        data = {"format": EXPORT_FORMAT, "version": EXPORT_VERSION}
        for table in _TABLES:
            data[table] = [dict(r) for r in self._rows(f"SELECT * FROM {table} ORDER BY id")]
        return data

    def import_(self, data: dict) -> tuple[dict[str, int], dict[str, int]]:
        """Add an export to this database; returns how many rows of each table were added and
        how many were here already. Into an empty memory the ids are kept, so the export is
        reproduced exactly; otherwise rows get fresh ids, everything belongs to this user, and
        a row this memory already holds (the same turn, a fact it already knows) is not added
        again, so importing a file twice changes nothing. A row that is damaged (a wrong type,
        a reference to a row the export lacks) stops the import with nothing added."""
        if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
            raise MemoryError(f"not a companion memory export (expected \"format\": \"{EXPORT_FORMAT}\")")
        if data.get("version") != EXPORT_VERSION:
            raise MemoryError(f"unsupported export version {data.get('version')!r}; this companion reads version {EXPORT_VERSION}")
        refs = {"sessions": {"user_id": "users"}, "turns": {"session_id": "sessions"},
                "facts": {"user_id": "users", "source_turn_id": "turns"}, "summaries": {"session_id": "sessions"}}
        ids: dict[str, dict[int, int]] = {t: {} for t in _TABLES}
        added, present = dict.fromkeys(_TABLES, 0), dict.fromkeys(_TABLES, 0)
        with self.transaction() as db:
            merge = any(db.execute(f"SELECT 1 FROM {t} LIMIT 1").fetchone() for t in _TABLES[1:])
            if not merge and data.get("users"):
                db.execute("DELETE FROM users")  # only the empty default user: the export's own replaces it
            for table in _TABLES:
                columns = {r[1]: (r[2], bool(r[3])) for r in db.execute(f"PRAGMA table_info({table})")}
                rows = data.get(table, [])
                if not isinstance(rows, list):
                    raise MemoryError(f'"{table}" in the export is not a list of rows; the file is damaged')
                held = self._held(table, columns) if merge else {}
                for row in rows:
                    _check_row(table, row, columns)
                    if table == "users" and merge:
                        ids["users"][row["id"]] = self.user_id
                        continue
                    values = dict(row)
                    for col, parent in refs.get(table, {}).items():
                        if values[col] is not None:
                            if values[col] not in ids[parent]:
                                raise MemoryError(f"the export's {table} row {row['id']} refers to {parent} row "
                                                  f"{values[col]}, which the export does not hold; the file is "
                                                  "incomplete or was edited. Nothing was imported")
                            values[col] = ids[parent][values[col]]
                    if merge:
                        del values["id"]
                        same = held.get(_identity(table, values))
                        if same is not None:
                            ids[table][row["id"]] = same
                            present[table] += 1
                            continue
                    try:
                        cur = db.execute(f"INSERT INTO {table} ({', '.join(values)}) VALUES "
                                         f"({', '.join('?' * len(values))})", list(values.values()))
                    except sqlite3.IntegrityError as exc:  # a role that is neither, an id given twice
                        raise MemoryError(f"the export's {table} row {row['id']} cannot be stored ({exc}); "
                                          "the file is damaged. Nothing was imported") from None
                    ids[table][row["id"]] = cur.lastrowid
                    added[table] += 1
        self.user_id = self._default_user()
        return added, present

    def _held(self, table: str, columns: dict) -> dict[tuple, int]:
        """This memory's rows of ``table`` by what makes them the same row (ids aside)."""
        names = [c for c in columns if c != "id"]
        return {_identity(table, dict(zip(names, r[1:]))): r[0]
                for r in self.db.execute(f"SELECT id, {', '.join(names)} FROM {table}")}


def _identity(table: str, values: dict) -> tuple:
    """A fact still valid is the same fact whatever its dates (as :meth:`MemoryStore.add_fact`
    sees it); any other row is the same when every field is."""
    if table == "facts" and values["valid_to"] is None:
        return ("current", values["user_id"], values["subject"], values["attribute"], str(values["value"]).lower())
    return tuple(sorted(values.items()))


def _check_row(table: str, row, columns: dict[str, tuple[str, bool]]) -> None:
    """Every field present and of its column's type, so nothing odd is stored."""
    if not isinstance(row, dict) or set(row) != set(columns):
        raise MemoryError(f"a {table} row in the export has the wrong fields; expected {sorted(columns)}")
    for col, (kind, required) in columns.items():
        value = row[col]
        if value is None:
            if required or col == "id":
                raise MemoryError(f"the export's {table} row {row.get('id')!r} has no {col}; the file is damaged")
            continue
        ok = isinstance(value, int) and not isinstance(value, bool) if kind == "INTEGER" else isinstance(value, str)
        if not ok:
            raise MemoryError(f"the export's {table} row {row.get('id')!r}: {col} should be "
                              f"{'a whole number' if kind == 'INTEGER' else 'text'}, not {value!r}; the file is damaged")


def _marks(values) -> str:
    return ",".join("?" * len(values))


def _fact(row: sqlite3.Row) -> Fact:
    return Fact(row["id"], row["subject"], row["attribute"], row["value"], row["source_turn_id"], row["origin"],
                row["valid_from"], row["valid_to"])


def _snippet(row: sqlite3.Row) -> Snippet:
    return Snippet(row["id"], row["session_id"], row["role"], row["text"], row["created_at"])


@contextmanager
def transaction(db: sqlite3.Connection):
    """Explicit BEGIN IMMEDIATE/COMMIT on an autocommit connection (DDL included)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
