"""Pronunciation overrides: names (from memory, from the user) that a voice's phonemiser reads
wrongly, respelt the way they sound, before any engine sees the text. One table for every
engine: ``voices/pronunciations.toml`` in the repository, then the user's own in the data
directory's ``voices/`` folder (which wins)."""

from __future__ import annotations

import logging
import re
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Callable

from ..model_files import PRONUNCIATIONS, voice_dirs

log = logging.getLogger(__name__)


def read_table(data: Path) -> dict[str, str]:
    """The ``[words]`` table, the user's entries over the repository's; a file that cannot be
    read is logged and skipped (a typo must not silence her)."""
    table: dict[str, str] = {}
    for folder in reversed(voice_dirs(data)):  # the repository's first, the user's over it
        path = folder / PRONUNCIATIONS
        if not path.is_file():
            continue
        try:
            words = tomllib.loads(path.read_text(encoding="utf-8")).get("words", {})
        except (OSError, tomllib.TOMLDecodeError) as exc:
            log.warning("pronunciations in %s ignored: %s", path, exc)
            continue
        table.update({str(k): str(v) for k, v in words.items()})
    return table


@lru_cache(maxsize=8)
def _rewriter(items: tuple[tuple[str, str], ...]) -> Callable[[str], str]:
    if not items:
        return lambda text: text
    table = dict(items)
    pattern = re.compile(r"\b(" + "|".join(sorted(map(re.escape, table), key=len, reverse=True)) + r")\b")
    return lambda text: pattern.sub(lambda m: table[m.group(1)], text)


def pronunciations(data: Path) -> Callable[[str], str]:
    """``say(text)``: the text with every listed word (whole words, as written) respelt."""
    return _rewriter(tuple(sorted(read_table(data).items())))
