"""Audio in and out: sources yield 16 kHz mono frames, sinks play or store reply audio."""
