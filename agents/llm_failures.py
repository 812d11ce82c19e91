"""What can go wrong talking to an LLM, as typed values, and which of it is worth retrying.

Every failure of an LLM call becomes an `LlmFailure` with a `FailureKind`; nothing escapes as
an exception. Only transport trouble is retried: connection errors, timeouts, 429 rate limits
(but not a 429 `insufficient_quota`, which no amount of waiting fixes) and 5xx server errors.
Messages pass through a `SecretRedactor`, so an API key echoed by a server never reaches a log
line, a failure message or a stored decision.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Annotated, Any

import openai
from pydantic import BaseModel, ConfigDict, Field

MAX_FAILURE_MESSAGE_CHARS = 500
# Keys shorter than this are not redacted by value (a one-letter "key" would mangle every text).
MIN_REDACTED_SECRET_CHARS = 8
REDACTED = "[redacted]"
# Shapes of credentials that may appear in server messages even when they are not ours.
_CREDENTIAL_PATTERNS = (
    re.compile(r"\bsk-[A-Za-z0-9_\-*]{6,}"),
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._\-~+/=*]{6,}"),
)


class FailureKind(StrEnum):
    TIMEOUT = "timeout"  # the overall deadline (or a request's timeout) passed
    RATE_LIMITED = "rate_limited"  # 429 that may succeed later
    QUOTA = "quota"  # 429 insufficient_quota: billing, not load; never retried
    SERVER_ERROR = "server_error"  # 5xx
    CONNECTION = "connection"  # could not connect / connection dropped
    REFUSAL = "refusal"  # the model refused (message.refusal, content filter)
    TRUNCATED = "truncated"  # finish_reason == "length": the JSON is cut off
    MALFORMED = "malformed"  # empty answer, not JSON, or an unexpected response shape
    INVALID = "invalid"  # JSON that does not match the schema or the caller's rules
    HTTP_ERROR = "http_error"  # any other HTTP status (400, 401, 404 ...)


RETRYABLE_KINDS = frozenset(
    {
        FailureKind.TIMEOUT,
        FailureKind.RATE_LIMITED,
        FailureKind.SERVER_ERROR,
        FailureKind.CONNECTION,
    }
)


class LlmFailure(BaseModel):
    """Why an LLM call gave no usable answer. `message` is redacted and bounded."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: FailureKind
    message: Annotated[str, Field(max_length=MAX_FAILURE_MESSAGE_CHARS)]
    purpose: str = ""
    status_code: int | None = None
    attempts: int = 0

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE_KINDS


class SecretRedactor:
    """Replaces the given secrets, and anything shaped like an API key, with `[redacted]`."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._secrets = sorted(
            {s for s in secrets if s and len(s) >= MIN_REDACTED_SECRET_CHARS},
            key=len,
            reverse=True,
        )

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        for pattern in _CREDENTIAL_PATTERNS:
            text = pattern.sub(REDACTED, text)
        return text

    def __repr__(self) -> str:
        return f"SecretRedactor({len(self._secrets)} secret(s))"


# Loggers of the libraries an LLM call goes through (the SDK logs tracebacks at DEBUG).
THIRD_PARTY_LOGGERS = (
    "openai",
    "openai._base_client",
    "openai._response",
    "openai._legacy_response",
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
)


class _RedactingLogFilter(logging.Filter):
    """Removes every registered secret from the records of the loggers it is attached to,
    including the text of a logged traceback."""

    def __init__(self) -> None:
        super().__init__("execlayer-redact")
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._redact = SecretRedactor()

    def add(self, secret: str) -> None:
        with self._lock:
            if secret not in self._secrets:
                self._secrets.add(secret)
                self._redact = SecretRedactor(self._secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        redact = self._redact
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave the record to logging's own handling
            return True
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
            record.exc_info = None
        return True


_log_filter = _RedactingLogFilter()
_installed_on: set[str] = set()
_install_lock = threading.Lock()


def redact_in_logs(secret: str | None) -> None:
    """Keep `secret` out of our log lines and those of the SDK and httpx, from now on."""
    with _install_lock:
        for name in THIRD_PARTY_LOGGERS:
            if name not in _installed_on:
                logging.getLogger(name).addFilter(_log_filter)
                _installed_on.add(name)
    if secret and len(secret) >= MIN_REDACTED_SECRET_CHARS:
        _log_filter.add(secret)


def bounded(text: str, limit: int = MAX_FAILURE_MESSAGE_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class AttemptError:
    """One failed HTTP attempt: its kind, a redacted message, and when the server allows a retry."""

    kind: FailureKind
    message: str
    status_code: int | None = None
    retry_after_s: float | None = None
    server_says_no_retry: bool = False

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE_KINDS and not self.server_says_no_retry


def retry_after_seconds(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """How long the server asks us to wait: `retry-after-ms`, else `retry-after` (seconds or an
    HTTP date). None when absent, unparsable, negative or not finite."""
    lowered = {k.lower(): v for k, v in headers.items()}
    raw_ms = lowered.get("retry-after-ms")
    if raw_ms is not None:
        try:
            value = float(raw_ms) / 1000.0
        except ValueError:
            value = math.nan
        if math.isfinite(value) and value >= 0:
            return value
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        value = (when - (now or datetime.now(UTC))).total_seconds()
    return value if math.isfinite(value) and value >= 0 else None


def _error_body(body: object) -> dict[str, Any]:
    """The `error` object of an OpenAI error body (`{"error": {...}}`), or the body itself."""
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            return inner
    return {}


def is_insufficient_quota(body: object) -> bool:
    error = _error_body(body)
    return "insufficient_quota" in (str(error.get("code")), str(error.get("type")))


def classify_error(exc: BaseException, redact: SecretRedactor) -> AttemptError:
    """Map an exception raised by an SDK call to an `AttemptError` (never re-raises)."""
    if isinstance(exc, openai.APITimeoutError):
        return AttemptError(FailureKind.TIMEOUT, "the request timed out")
    if isinstance(exc, openai.APIConnectionError):
        cause = type(exc.__cause__).__name__ if exc.__cause__ else "connection error"
        return AttemptError(FailureKind.CONNECTION, f"could not reach the LLM endpoint ({cause})")
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        error = _error_body(exc.body)
        detail = str(error.get("message") or "").strip() or exc.response.reason_phrase or ""
        message = bounded(redact(f"HTTP {status}: {detail}".rstrip(": ")))
        headers = exc.response.headers
        no_retry = headers.get("x-should-retry", "").lower() == "false"
        if status == 429 and is_insufficient_quota(exc.body):
            return AttemptError(FailureKind.QUOTA, message, status)
        if status == 429:
            kind = FailureKind.RATE_LIMITED
        elif status >= 500:
            kind = FailureKind.SERVER_ERROR
        else:
            kind = FailureKind.HTTP_ERROR
        return AttemptError(kind, message, status, retry_after_seconds(headers), no_retry)
    if isinstance(exc, openai.APIResponseValidationError):
        return AttemptError(FailureKind.MALFORMED, "the response did not match the API schema")
    return AttemptError(
        FailureKind.MALFORMED, f"unexpected error reading the response ({type(exc).__name__})"
    )
