"""What the command line prints: text from datasets and models is shown escaped, never as terminal controls."""

from __future__ import annotations

import re

import click

__all__ = ["echo", "safe"]

# C0 and C1 controls but tab and newline (escape sequences start with ESC or CSI), DEL, and the bidi
# overrides and isolates that make a line read differently from what it holds (CVE-2021-42574)
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe(text: str) -> str:
    """``text`` with terminal control characters written as escapes (``\\x1b``); tabs and newlines kept."""
    return _UNSAFE.sub(_escape, text)


def echo(text: str) -> None:
    """One message line (or lines) on stderr, made safe for the terminal."""
    click.echo(safe(text), err=True)
