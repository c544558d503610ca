"""``companion memory list | search | forget | export | import | wipe``: what the user can see
and control about what Samantha remembers. Prints for a terminal; returns an exit status."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import check_new_file, write_user_file
from ..ops.config import Config, data_dir
from ..runtime.instance import AlreadyRunning, single_instance
from . import phrasing
from .forgetting import forget_facts
from .retrieval import match_query, related_turns
from .store import DB_NAME, MemoryError, MemoryStore


def run_command(cfg: Config, args) -> int:
    store = MemoryStore(data_dir() / DB_NAME)
    try:
        return _ACTIONS[args.memory_action](store, args)
    finally:
        store.close()


def _list(store: MemoryStore, args) -> int:
    facts = store.facts(current=not args.all)
    counts = store.counts()
    print(f"{counts['turns']} turns in {counts['sessions']} conversations; {len(facts)} facts"
          f"{'' if args.all else ' (current; --all shows replaced ones too)'}")
    for f in facts:
        until = f", until {f.valid_to[:10]}" if f.valid_to else ""
        print(f"{f.id:5d}  {phrasing.line(f)}  (since {f.valid_from[:10]}{until}; {f.origin})")
    return 0


def _search(store: MemoryStore, args) -> int:
    text = " ".join(args.text)
    facts, turns = store.search_facts(match_query(text), 20), related_turns(store, text, 20)
    for f in facts:
        print(f"fact {f.id:5d}  {phrasing.line(f)}")
    for t in turns:
        print(f"turn {t.turn_id:5d}  {t.created_at[:16].replace('T', ' ')}  {t.role}: {t.text}")
    if not facts and not turns:
        print("Nothing found.")
    return 0


def _forget(store: MemoryStore, args) -> int:
    if not forget_facts(store, [args.id]):
        raise MemoryError(f"there is no fact {args.id}; 'companion memory list' shows the ids")
    print(f"Forgot fact {args.id} and every sentence that said it.")
    return 0


def _export(store: MemoryStore, args) -> int:
    path = check_new_file(args.file, args.force)
    data = store.export()
    write_user_file(path, json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8"))  # as private as the database
    print(f"Exported {len(data['facts'])} facts and {len(data['turns'])} turns to {path}.")
    return 0


def _import(store: MemoryStore, args) -> int:
    try:
        data = json.loads(Path(args.file).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MemoryError(f"{args.file}: no such file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MemoryError(f"{args.file}: not a JSON export ({exc})") from None
    added, present = store.import_(data)
    held = f" ({present['facts']} facts and {present['turns']} turns were here already)" if any(present.values()) else ""
    print(f"Imported {added['facts']} facts and {added['turns']} turns from {args.file}{held}.")
    return 0


def _wipe(store: MemoryStore, args) -> int:
    counts = store.counts()
    if not args.yes:
        print(f"This erases {counts['turns']} turns and {counts['facts']} facts for good. "
              "Run 'companion memory wipe --yes' to do it.")
        return 1
    try:
        with single_instance(data_dir()):  # she cannot start meanwhile
            store.wipe()
    except AlreadyRunning as exc:  # her conversation's rows would vanish under her, and what she hears with them
        raise MemoryError(f"Samantha is running (pid {exc.pid}) and is using this memory. Say 'forget everything' "
                          f"to her, or stop her first (kill {exc.pid}, or 'companion service uninstall' if she runs "
                          "as a service), then run 'companion memory wipe --yes' again") from None
    print(f"Erased {counts['turns']} turns and {counts['facts']} facts.")
    return 0


_ACTIONS = {"list": _list, "search": _search, "forget": _forget, "export": _export, "import": _import, "wipe": _wipe}
