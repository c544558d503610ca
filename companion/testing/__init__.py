"""Test doubles and harnesses shared by tests/ and benchmarks/: a scripted
OpenAI-compatible server and a virtual headset (PulseAudio null sinks)."""
