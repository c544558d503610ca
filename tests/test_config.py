import dataclasses
import tomllib

import pytest

from companion.ops.cli import main
from companion.ops.config import PROJECT_ROOT, SECTIONS, Config, ConfigError, load_config, parse_assignments


def test_defaults_when_no_file(tmp_path):
    cfg = load_config(None, environ={})
    assert cfg.llm.base_url == "embedded"
    assert cfg.stt.model == "bundled:base"
    assert cfg.tts.voice == "heart"


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
    ("[llm]\nmax_tokens = 'many'\n", "[llm] max_tokens = 'many' is not valid; expected a whole number"),
    ("[llm]\nmax_tokens = 2.5\n", "expected a whole number"),
    ("[llm\n", "is not valid TOML"),
    # one rule per type: a config file's values must have the right type
    ("[llm]\nbase_url = 42\n", "[llm] base_url = 42 is not valid; expected text"),
    ("[persona]\nname = 5\n", "[persona] name = 5 is not valid; expected text"),
    ("[llm]\nmax_retries = \"3\"\n", "[llm] max_retries = '3' is not valid; expected a whole number"),
    ("[llm]\nmax_tokens = 50.0\n", "[llm] max_tokens = 50.0 is not valid; expected a whole number"),
    ("[memory]\nenabled = \"no\"\n", "[memory] enabled = 'no' is not valid; expected true or false"),
    ("[tts]\nspeed = \"1.2\"\n", "[tts] speed = '1.2' is not valid; expected a number"),
    ("[llm]\ntemperature = nan\n", "[llm] temperature = nan is not a number"),
    ("[vad]\nmax_turn_s = inf\n", "[vad] max_turn_s = inf is not a number"),
    ("[llm]\nbase_url = \"localhost:11434/v1\"\n", "is not an endpoint; use 'embedded', 'auto' or an http(s):// URL"),
    ("[llm]\nbase_url = \"ftp://example.com/v1\"\n", "is not an endpoint"),
    ("[llm]\nbase_url = \"http://\"\n", "is not an endpoint"),
    ("[llm]\nbase_url = \"http://host:port/v1\"\n", "is not an endpoint"),
    ("[skills]\ntimezone = \"Mars/Olympus\"\n", "[skills] timezone = 'Mars/Olympus' is not an IANA time zone"),
    ("[persona]\nname = \"nosuch\"\n", "[persona] name = 'nosuch' is not a persona in"),
    ("[llm]\ncontext_size = 256\n", "[llm] context_size = 256 is too small: the persona 'samantha' takes about"),
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


def test_text_from_the_environment_and_flags_is_parsed_by_the_same_rules():
    cfg = load_config(None, flags={"llm": {"max_retries": "3", "temperature": "0.5", "base_url": "https://api.x.org/v1"},
                                   "skills": {"timezone": "Europe/Berlin"}}, environ={"COMPANION_TTS_SPEED": "1.25"})
    assert (cfg.llm.max_retries, cfg.llm.temperature, cfg.tts.speed) == (3, 0.5, 1.25)
    assert cfg.llm.base_url == "https://api.x.org/v1" and cfg.skills.timezone == "Europe/Berlin"
    for flags in ({"llm": {"temperature": "nan"}}, {"llm": {"base_url": ""}}, {"llm": {"max_tokens": "50.5"}},
                  {"skills": {"timezone": "Mars/Olympus"}}):
        with pytest.raises(ConfigError, match=list(flags)[0]):
            load_config(None, flags=flags, environ={})
    with pytest.raises(ConfigError, match="temperature"):
        load_config(None, environ={"COMPANION_LLM_TEMPERATURE": "inf"})
    # a bigger window fits; a remote endpoint has its own
    assert load_config(None, flags={"llm": {"context_size": "1024"}}, environ={}).llm.context_size == 1024
    load_config(None, flags={"llm": {"context_size": "256", "base_url": "http://localhost:8080/v1"}}, environ={})


def test_unknown_environment_variables_are_refused_but_companion_home_is_not(companion_home):
    with pytest.raises(ConfigError, match="unknown environment variable COMPANION_BOGUS_X; settings are"):
        load_config(None, environ={"COMPANION_BOGUS_X": "1"})
    with pytest.raises(ConfigError, match="unknown key \\[llm\\] bogus in environment variables"):
        load_config(None, environ={"COMPANION_LLM_BOGUS": "1"})
    assert load_config(None, environ={"COMPANION_HOME": str(companion_home)}) == Config()


def test_bad_settings_exit_2_from_every_command_and_doctor_lists_them(capsys, monkeypatch):
    assert main(["--persona", "nosuch", "status"]) == 2
    err = capsys.readouterr().err
    assert "[persona] name = 'nosuch' is not a persona" in err and "available: samantha" in err
    assert main(["--set", "skills.timezone=Mars/Olympus", "reminders", "list"]) == 2
    assert "[skills] timezone = 'Mars/Olympus'" in capsys.readouterr().err
    monkeypatch.setenv("COMPANION_BOGUS_X", "1")
    assert main(["doctor"]) == 2
    out, err = capsys.readouterr()
    assert "COMPANION_BOGUS_X" in err and out.startswith("FAIL  configuration: unknown environment variable COMPANION_BOGUS_X")
    monkeypatch.delenv("COMPANION_BOGUS_X")
    assert main(["doctor", "--set", "llm.base_url="]) == 2
    assert "FAIL  configuration: [llm] base_url = '' is not an endpoint" in capsys.readouterr().out
