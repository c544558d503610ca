"""Samantha: a local, voice-first companion."""

__version__ = "0.1.0"
