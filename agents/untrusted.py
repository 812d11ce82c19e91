"""Handling of untrusted free text (event text, order notes, partner messages) before it reaches
a prompt, a log line or stored memory.

Untrusted text is DATA written by third parties. It is never concatenated into instructions:
callers place the cleaned text in a clearly delimited JSON field. Cleaning removes control
characters (C0/C1, except newline and tab), Unicode format characters that can hide or reorder
text (zero-width characters, bidirectional overrides), and bounds the length.
"""

from __future__ import annotations

import re
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


# Phrases that instruct rather than report. Their presence does not change what the LLM may
# do (nothing in untrusted text can); it makes a report go to a person instead of being
# classified, and it is shown to the advisor as a warning.
_INSTRUCTION_MARKERS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE | re.MULTILINE))
    for name, pattern in (
        (
            "ignore-instructions",
            r"\b(ignore|disregard|forget|override)\b.{0,40}"
            r"\b(rules?|instructions?|polic(y|ies)|guardrails?|prompts?|above|previous)\b",
        ),
        ("role-override", r"^\s*(system|developer|assistant)\s*:|\bsystem\s+(prompt|override)\b"),
        (
            "mode-switch",
            r"\b(admin|developer|debug|god|jailbreak|unrestricted)\s+mode\b"
            r"|\byou\s+are\s+now\b",
        ),
        ("new-instructions", r"\b(new|updated|real)\s+instructions?\b"),
        (
            "skip-approval",
            r"\bno\s+approvals?\s+(is\s+)?(needed|required)\b"
            r"|\b(skip|bypass|without)\s+(the\s+|any\s+)?approvals?\b",
        ),
        ("choose-candidate", r"\b(choose|pick|select)\s+(the\s+)?candidate\b"),
        (
            "secrets",
            r"\b(api[\s_-]?keys?|secret\s+keys?|passwords?|credentials)\b"
            r"|EXECLAYER_[A-Z_]+",
        ),
        ("markup", r"</?\s*(untrusted_data|system|instructions?|im_start|im_end)\s*>"),
        (
            "schema-fields",
            r"\b(allowed_candidate_ids|candidate_id|untrusted_data|response_format"
            r"|json_schema|deterministic_choice)\b",
        ),
    )
)


def instruction_markers(text: str | None) -> list[str]:
    """Names of the instruction-like patterns found in `text` (after cleaning), in a fixed
    order; [] for ordinary reports."""
    if not text:
        return []
    cleaned = clean_untrusted(text, max(len(text), 32))
    return [name for name, pattern in _INSTRUCTION_MARKERS if pattern.search(cleaned)]
