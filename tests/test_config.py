import dataclasses
import tomllib

import pytest

from companion.ops.cli import main
from companion.ops.config import PROJECT_ROOT, SECTIONS, Config, ConfigError, load_config, parse_assignments


def test_defaults_when_no_file(tmp_path):
    cfg = load_config(None, environ={})
    assert cfg.llm.base_url == "embedded"
    assert cfg.stt.model == "bundled:tiny.en"
    assert cfg.tts.voice == "joe"


def test_precedence_file_then_env_then_flags(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('[llm]\nmax_tokens = 50\nmodel = "from-file"\n[vad]\nend_silence_ms = 900\n')
    env = {"COMPANION_LLM_MAX_TOKENS": "60", "COMPANION_VAD_END_SILENCE_MS": "800"}
    cfg = load_config(f, flags={"vad": {"end_silence_ms": "700"}}, environ=env)
    assert cfg.llm.model == "from-file"
    assert cfg.llm.max_tokens == 60
    assert cfg.vad.end_silence_ms == 700


@pytest.mark.parametrize("text, expected", [
    ("[llm]\nbase_ulr = 'x'\n", "unknown key [llm] base_ulr"),
    ("[lm]\nbase_url = 'x'\n", "unknown section [lm]"),
    ("[vad]\nthreshold = 1.5\n", "[vad] threshold = 1.5 is out of range; allowed: 0.05 to 0.99"),
    ("[stt]\ndevice = 'tpu'\n", "choose one of: cpu, cuda, auto"),
    ("[llm]\nmax_tokens = 'many'\n", "[llm] max_tokens = 'many' is not a valid int"),
    ("[llm]\nmax_tokens = 2.5\n", "is not a valid int"),
    ("[llm\n", "is not valid TOML"),
])
def test_bad_config_names_key_and_allowed(tmp_path, text, expected):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=None) as err:
        load_config(f, environ={})
    assert expected in str(err.value)


def test_bad_env_and_flag_values():
    with pytest.raises(ConfigError, match="max_tokens"):
        load_config(None, environ={"COMPANION_LLM_MAX_TOKENS": "lots"})
    with pytest.raises(ConfigError, match="section.key=value"):
        parse_assignments(["vad=3"])


def test_cli_exits_2_with_message(tmp_path, capsys):
    f = tmp_path / "bad.toml"
    f.write_text("[tts]\nspeed = 9\n")
    assert main(["--config", str(f), "devices"]) == 2
    assert "[tts] speed = 9.0 is out of range" in capsys.readouterr().err
    assert main(["devices", "--set", "audio.nope=1"]) == 2
    assert "unknown key [audio] nope" in capsys.readouterr().err
    assert main(["--config", str(tmp_path / "missing.toml"), "devices"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_repo_config_documents_every_key_with_its_default():
    doc = tomllib.loads((PROJECT_ROOT / "config.toml").read_text())
    text = (PROJECT_ROOT / "config.toml").read_text()
    defaults = Config()
    assert set(doc) == set(SECTIONS)
    for section in SECTIONS:
        fields = dataclasses.fields(getattr(defaults, section))
        assert set(doc[section]) == {f.name for f in fields}, section
        for f in fields:
            assert doc[section][f.name] == getattr(getattr(defaults, section), f.name), f"[{section}] {f.name}"
            assert f"\n{f.name} = " in text
    # and the file itself loads cleanly
    assert load_config(PROJECT_ROOT / "config.toml", environ={}) == defaults
