"""Errors a user can cause through the skills' CLI commands (unknown id, unreadable file).
A ``RuntimeError``, so the CLI prints the message alone and exits 1."""


class SkillError(RuntimeError):
    """Says what went wrong and what to do instead."""
