"""The LoCoMo recall benchmark: its scoring on a hand-made conversation, a clean skip without
the data, and a recall floor on one real conversation when the data is present."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
from pathlib import Path

import pytest

from companion.ops.config import PROJECT_ROOT

# the data lives beside the checkout (../shared/data/locomo10, as on CI); LOCOMO_DIR points elsewhere
LOCOMO = Path(os.environ.get("LOCOMO_DIR") or Path(__file__).resolve().parents[2] / "shared" / "data" / "locomo10")
spec = importlib.util.spec_from_file_location("locomo_bench", PROJECT_ROOT / "benchmarks" / "locomo.py")
locomo = sys.modules["locomo_bench"] = importlib.util.module_from_spec(spec)  # dataclasses need it registered
spec.loader.exec_module(locomo)

TINY = {
    "speaker_a": "Ann", "speaker_b": "Ben",
    "session_1_date_time": "1:56 pm on 8 May, 2023",
    "session_1": [{"speaker": "Ann", "dia_id": "D1:1", "text": "I adopted a tortoise called Sheldon yesterday."},
                  {"speaker": "Ben", "dia_id": "D1:2", "text": "Wonderful, how old is he?"}],
    "session_2_date_time": "10:00 am on 20 June, 2023",
    "session_2": [{"speaker": "Ben", "dia_id": "D2:1", "text": "My band played at the harbour festival."},
                  {"speaker": "Ann", "dia_id": "D2:2", "text": "Nice!", "blip_caption": "a photo of a violin"}],
    "qa": [{"question": "What pet did Ann adopt?", "answer": "a tortoise", "evidence": ["D1:1"], "category": 4},
           {"question": "Where did Ben's band play?", "answer": "harbour festival", "evidence": ["D2:1"], "category": 2},
           {"question": "What instrument did Ann show?", "answer": "violin", "evidence": ["D2:2"], "category": 1},
           {"question": "Broken evidence?", "answer": "-", "evidence": ["D9:9"], "category": 4}],
}


def table(out: str) -> dict[str, list[str]]:
    return {cells[0]: cells[1:] for line in out.splitlines() if line.startswith("| ")
            for cells in [[c.strip() for c in line.strip("|").split("|")]]}


def test_scores_a_hand_made_conversation(tmp_path, capsys):
    (tmp_path / "tiny.json").write_text(json.dumps(TINY))
    assert locomo.main([str(tmp_path), "--runs", "2", "--scale-turns", "500"]) == 0
    out = capsys.readouterr().out
    rows = table(out)
    assert rows["4 single-hop"] == ["1", "1.000", "1.000"]
    assert rows["2 temporal"] == ["1", "1.000", "1.000"]
    assert rows["1 multi-hop"] == ["1", "1.000", "1.000"]  # the photo caption is searchable
    assert "500 stored turns" in out and "1 questions skipped" in out


def test_skips_cleanly_without_the_data(tmp_path, capsys):
    assert locomo.main([str(tmp_path / "nowhere")]) == 0
    assert "LoCoMo data not found" in capsys.readouterr().out


@pytest.mark.skipif(not (LOCOMO / "26.json").is_file(), reason=f"LoCoMo data not at {LOCOMO} (set LOCOMO_DIR)")
def test_recall_floor_on_a_real_conversation(capsys):
    assert locomo.main([str(LOCOMO / "26.json"), "--runs", "1", "--scale-turns", "0"]) == 0
    rows = table(capsys.readouterr().out)
    recall10 = float(rows["**all**"][2])
    assert recall10 >= 0.55, rows
    assert float(re.sub(r"[^\d.]", "", rows["one LoCoMo conversation (~600 turns)"][0])) < 20
