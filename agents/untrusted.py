"""Handling of untrusted free text (event text, order notes, partner messages) before it reaches
a prompt, a log line or stored memory.

Untrusted text is DATA written by third parties. It is never concatenated into instructions:
callers place the cleaned text in a clearly delimited JSON field. Cleaning removes control
characters (C0/C1, except newline and tab), Unicode format characters that can hide or reorder
text (zero-width characters, bidirectional overrides), and bounds the length.
"""

from __future__ import annotations

import unicodedata

TRUNCATION_MARK = " [truncated]"

# Whitespace that is kept (normalised to plain spaces / newlines).
_KEPT_WHITESPACE = {"\n": "\n", "\t": " ", "\r": "\n"}


def _is_hidden(char: str) -> bool:
    """Control (Cc) and format (Cf: zero-width, bidi overrides...) characters, and unassigned
    or private-use code points: nothing a reader can see, so nothing a model should read."""
    return unicodedata.category(char) in {"Cc", "Cf", "Cn", "Co", "Cs"}


def clean_untrusted(text: str, max_chars: int) -> str:
    """`text` with hidden characters removed, runs of blank lines collapsed, trimmed, and cut to
    at most `max_chars` characters (a cut text ends with `TRUNCATION_MARK`)."""
    if max_chars < len(TRUNCATION_MARK) + 1:
        raise ValueError(f"max_chars must be at least {len(TRUNCATION_MARK) + 1}")
    kept = []
    for char in text.replace("\r\n", "\n"):
        if char in _KEPT_WHITESPACE:
            kept.append(_KEPT_WHITESPACE[char])
        elif not _is_hidden(char):
            kept.append(char)
    lines = [" ".join(line.split()) for line in "".join(kept).split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    cleaned = "\n".join(out).strip()
    if len(cleaned) > max_chars:
        cleaned = cleaned[: max_chars - len(TRUNCATION_MARK)].rstrip() + TRUNCATION_MARK
    return cleaned


def one_line(text: str, max_chars: int) -> str:
    """`clean_untrusted` flattened to a single line (for summaries, rationales, log lines)."""
    return clean_untrusted(" ".join(text.split()), max_chars)
