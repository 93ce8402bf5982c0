"""Command line: ``openclarify analyze`` (more subcommands come with serving and training)."""

from __future__ import annotations

from ._main import EXIT_CONFIG, EXIT_DATA, EXIT_MODEL, EXIT_OUTPUT, EXIT_UNEXPECTED, main

__all__ = ["EXIT_CONFIG", "EXIT_DATA", "EXIT_MODEL", "EXIT_OUTPUT", "EXIT_UNEXPECTED", "main"]
