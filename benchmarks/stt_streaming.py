"""What streaming a turn to a Wyoming recogniser saves: the same Piper-spoken turns sent to a real
``wyoming-faster-whisper`` on 127.0.0.1 (Whisper base int8, as the bundled model) two ways:

- **whole**: the turn sent after it ends (connect, Transcribe, AudioStart, all chunks,
  AudioStop), timed to the Transcript: what the recogniser did before streaming;
- **streamed**: the chunks already sent (as during speech), only AudioStop timed to the
  Transcript: what is left when the user stops.

The difference is the upload (and the connection); the decoding happens at AudioStop either
way (wyoming-faster-whisper decodes Whisper only then). The bytes per turn are printed too,
since on a real network the upload is bytes / bandwidth.

    PYTHONPATH=. .venv/bin/python benchmarks/stt_streaming.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from companion.audio.resample import resample
from companion.model_files import whisper_model_dir
from companion.ops.config import STTConfig, TTSConfig
from companion.stt.wyoming import WyomingRecognizer
from companion.testing.speech_servers import wyoming_whisper
from companion.tts import load_synthesizer, speak_to_array

SENTENCES = ["What time is it?", "Remind me to call my sister tomorrow morning.",
             "I moved to Boston last week and I really love walking along the harbor in the evening.",
             "Do you think it's going to rain this afternoon, or should I leave the umbrella at home?",
             "Tell me a short story about the sea."]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="stt-streaming-") as tmp:
        folder = Path(tmp)
        voice = load_synthesizer(TTSConfig(voice="joe"), folder / "home", varied=False)
        turns = [resample(speak_to_array(voice, s), voice.sample_rate, 16000) for s in SENTENCES]
        with wyoming_whisper(whisper_model_dir("bundled:base", folder / "models"), folder) as server:
            rec = WyomingRecognizer(STTConfig(base_url=server.url, connect_timeout_s=5, read_timeout_s=120))
            rec.warm_up()
            whole, streamed, upload = [], [], []
            for _ in range(args.repeat):
                for audio in turns:
                    t = time.perf_counter()
                    text_whole = rec.transcribe(audio).text
                    whole.append(time.perf_counter() - t)
                    t = time.perf_counter()
                    stream = rec.open_stream()
                    for i in range(0, len(audio), 1600):
                        stream.feed(audio[i:i + 1600])
                    upload.append(time.perf_counter() - t)
                    t = time.perf_counter()
                    text_streamed = stream.finish().text
                    streamed.append(time.perf_counter() - t)
                    assert text_whole == text_streamed, (text_whole, text_streamed)
    seconds = [len(a) / 16000 for a in turns]
    print(f"{os.cpu_count()} cores, {platform.machine()}, {len(turns)} turns of {min(seconds):.1f}-{max(seconds):.1f} s "
          f"x {args.repeat}; PCM sent per turn {2 * min(map(len, turns)) // 1000}-{2 * max(map(len, turns)) // 1000} kB")
    print("| what | median | p90 |\n|---|---|---|")
    for name, values in [("whole turn after it ends (connect + upload + decode)", whole),
                         ("streamed: AudioStop -> Transcript (what is left)", streamed),
                         ("the upload itself, done while the user speaks (connect + chunks)", upload)]:
        q = statistics.quantiles(values, n=10)
        print(f"| {name} | {1000 * statistics.median(values):.0f} ms | {1000 * q[-1]:.0f} ms |")


if __name__ == "__main__":
    main()
