"""Memory's schema as numbered steps (step N is ``MIGRATIONS[N-1]``), applied in order by
:func:`companion.database.migrate` and recorded there, so an old database is upgraded in place
and a new one is built by the same steps. Only ever append a step."""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: core tables
    """
        CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            name TEXT,
            created_at TEXT NOT NULL
        );
        CREATE TABLE sessions (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            started_at TEXT NOT NULL,
            ended_at TEXT
        );
        CREATE TABLE turns (
            id INTEGER PRIMARY KEY,
            session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
            text TEXT NOT NULL,          -- as transcribed (user) or as generated (assistant)
            spoken TEXT,                 -- what was actually said aloud (assistant)
            created_at TEXT NOT NULL
        );
        CREATE INDEX turns_session ON turns(session_id, id);
        CREATE TABLE facts (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            subject TEXT NOT NULL,       -- 'user' for facts about the user
            attribute TEXT NOT NULL,     -- e.g. name, lives_in, sister, likes
            value TEXT NOT NULL,
            source_turn_id INTEGER REFERENCES turns(id) ON DELETE SET NULL,
            origin TEXT NOT NULL,        -- rule | command | llm | import
            valid_from TEXT NOT NULL,
            valid_to TEXT                -- set when a newer value replaces this one
        );
        CREATE INDEX facts_current ON facts(user_id, attribute) WHERE valid_to IS NULL;
        CREATE TABLE summaries (
            id INTEGER PRIMARY KEY,
            session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            text TEXT NOT NULL,
            origin TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
    """,
    # 2: full-text search
    """
        CREATE VIRTUAL TABLE turns_fts USING fts5(text, content='turns', content_rowid='id',
                                                  tokenize='porter unicode61');
        CREATE TRIGGER turns_ai AFTER INSERT ON turns BEGIN
            INSERT INTO turns_fts(rowid, text) VALUES (new.id, new.text);
        END;
        CREATE TRIGGER turns_ad AFTER DELETE ON turns BEGIN
            INSERT INTO turns_fts(turns_fts, rowid, text) VALUES ('delete', old.id, old.text);
        END;
        CREATE VIRTUAL TABLE facts_fts USING fts5(attribute, value, content='facts', content_rowid='id',
                                                  tokenize='porter unicode61');
        CREATE TRIGGER facts_ai AFTER INSERT ON facts BEGIN
            INSERT INTO facts_fts(rowid, attribute, value) VALUES (new.id, replace(new.attribute, '_', ' '), new.value);
        END;
        CREATE TRIGGER facts_ad AFTER DELETE ON facts BEGIN
            INSERT INTO facts_fts(facts_fts, rowid, attribute, value)
            VALUES ('delete', old.id, replace(old.attribute, '_', ' '), old.value);
        END;
    """,
    # 3: an edited turn (a forgotten fact cut out of it) stays findable by what it still says
    """
        CREATE TRIGGER turns_au AFTER UPDATE OF text ON turns BEGIN
            INSERT INTO turns_fts(turns_fts, rowid, text) VALUES ('delete', old.id, old.text);
            INSERT INTO turns_fts(rowid, text) VALUES (new.id, new.text);
        END;
    """,
    # 4: facts about the user's people have the person as subject: search finds them by name too
    """
        DROP TRIGGER facts_ai;
        DROP TRIGGER facts_ad;
        DROP TABLE facts_fts;
        CREATE VIRTUAL TABLE facts_fts USING fts5(subject, attribute, value, content='facts', content_rowid='id',
                                                  tokenize='porter unicode61');
        CREATE TRIGGER facts_ai AFTER INSERT ON facts BEGIN
            INSERT INTO facts_fts(rowid, subject, attribute, value)
            VALUES (new.id, iif(new.subject = 'user', '', new.subject), replace(new.attribute, '_', ' '), new.value);
        END;
        CREATE TRIGGER facts_ad AFTER DELETE ON facts BEGIN
            INSERT INTO facts_fts(facts_fts, rowid, subject, attribute, value)
            VALUES ('delete', old.id, iif(old.subject = 'user', '', old.subject), replace(old.attribute, '_', ' '), old.value);
        END;
        CREATE TRIGGER facts_au AFTER UPDATE OF subject, attribute, value ON facts BEGIN
            INSERT INTO facts_fts(facts_fts, rowid, subject, attribute, value)
            VALUES ('delete', old.id, iif(old.subject = 'user', '', old.subject), replace(old.attribute, '_', ' '), old.value);
            INSERT INTO facts_fts(rowid, subject, attribute, value)
            VALUES (new.id, iif(new.subject = 'user', '', new.subject), replace(new.attribute, '_', ' '), new.value);
        END;
        INSERT INTO facts_fts(rowid, subject, attribute, value)
            SELECT id, iif(subject = 'user', '', subject), replace(attribute, '_', ' '), value FROM facts;
        CREATE INDEX facts_subject ON facts(user_id, subject, attribute) WHERE valid_to IS NULL;
    """,
]
