"""A bounded, typed client for any OpenAI-compatible chat-completions endpoint.

Built on the official `openai` SDK (OpenAI, Azure OpenAI v1, vLLM, Ollama, LM Studio ...), with
the SDK's own retries switched off (`max_retries=0`) and a retry loop of our own:

- only connection errors/timeouts, 429 (not `insufficient_quota`) and 5xx are retried, with
  exponential backoff and jitter, honouring `Retry-After`/`retry-after-ms`;
- one overall deadline bounds a call including every retry (`EXECLAYER_LLM_TIMEOUT_S`, 20 s by
  default): each attempt runs under a watchdog that stops waiting when the deadline passes,
  even if the server keeps the connection open;
- answers are requested as strict `json_schema` structured output and validated with pydantic;
  refusals, truncated (`finish_reason == "length"`), empty, malformed or schema-invalid answers
  come back as a typed `LlmFailure`, never as an exception;
- token usage is counted per call (`StructuredResult.usage`) and per client (`usage`);
- the API key never appears in a repr, a log line or a failure message.
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Generic, Literal, TypeVar
from urllib.parse import urlsplit

import httpx
import openai
from openai.lib._pydantic import to_strict_json_schema
from openai.types.chat import ChatCompletion, ChatCompletionMessage
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from agents.llm_failures import (
    AttemptError,
    FailureKind,
    LlmFailure,
    SecretRedactor,
    bounded,
    classify_error,
    redact_in_logs,
)
from tools.decisions import LlmUsage
from tools.inputs import describe
from tools.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T", bound=BaseModel)

# Sent when the endpoint needs no key (Ollama, vLLM, LM Studio): the SDK insists on one.
PLACEHOLDER_API_KEY = "not-needed"
DEFAULT_MAX_OUTPUT_TOKENS = 800
_FENCE = re.compile(r"^```(?:json|JSON)?\s*\n?(.*?)\n?```$", re.DOTALL)
_SCHEMA_NAME = re.compile(r"[^A-Za-z0-9_-]+")


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Literal["system", "user", "assistant"]
    content: str


class StructuredResult(BaseModel, Generic[T]):
    """The validated answer (`value`) or why there is none (`failure`), and what it cost."""

    model_config = ConfigDict(extra="forbid")

    value: T | None = None
    failure: LlmFailure | None = None
    usage: LlmUsage
    attempts: int = 0
    elapsed_ms: float = 0.0
    model: str = ""

    @property
    def ok(self) -> bool:
        return self.value is not None and self.failure is None


class ToolStep(BaseModel):
    """One tool-calling step: the assistant message, or why there is none."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    message: ChatCompletionMessage | None = None
    failure: LlmFailure | None = None
    usage: LlmUsage
    attempts: int = 0


class _Sent(BaseModel):
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    completion: ChatCompletion | None
    failure: LlmFailure | None
    usage: LlmUsage
    attempts: int
    elapsed_ms: float


def merge_usage(*usages: LlmUsage) -> LlmUsage:
    """The sum of several usages (e.g. classify + choose within one decision)."""
    return LlmUsage(
        prompt_tokens=sum(u.prompt_tokens for u in usages),
        completion_tokens=sum(u.completion_tokens for u in usages),
        calls=sum(u.calls for u in usages),
    )


def _public_url(url: str) -> str:
    """The URL without user-info, query or fragment (which may carry credentials)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


def _uses_max_completion_tokens(base_url: str) -> bool:
    """OpenAI's and Azure's own endpoints want `max_completion_tokens` (reasoning models reject
    `max_tokens`); local OpenAI-compatible servers (vLLM, Ollama, LM Studio) expect `max_tokens`."""
    host = (urlsplit(base_url).hostname or "").lower()
    return host == "api.openai.com" or host.endswith((".openai.azure.com", ".openai.com"))


def schema_name(text: str) -> str:
    """A `json_schema.name` the API accepts: `^[a-zA-Z0-9_-]{1,64}$`."""
    return (_SCHEMA_NAME.sub("_", text).strip("_") or "answer")[:64]


def strip_code_fence(content: str) -> str:
    """Local models often wrap JSON in a ```json fence even in JSON mode: unwrap it."""
    text = content.strip()
    match = _FENCE.match(text)
    return match.group(1).strip() if match else text


def run_with_deadline(call: Callable[[], Any], timeout_s: float) -> tuple[bool, Any]:
    """Run one blocking call in a daemon thread and stop waiting for it after `timeout_s`.

    Returns (True, result) or (True, exception) when the call finished, (False, None) when it
    did not finish in time. The SDK call also carries its own httpx timeout, so an abandoned
    call ends by itself soon after; this is what guarantees the caller's deadline even when a
    server trickles bytes or a transport ignores timeouts.
    """
    box: list[Any] = []
    done = threading.Event()

    def target() -> None:
        try:
            box.append(call())
        except BaseException as exc:  # handed to the caller, classified there
            box.append(exc)
        finally:
            done.set()

    threading.Thread(target=target, name="execlayer-llm-call", daemon=True).start()
    if not done.wait(max(0.0, timeout_s)):
        return False, None
    return True, box[0]


class LlmClient:
    """Structured-output calls to one model on one OpenAI-compatible endpoint.

    Thread-safe: several decisions may share one client. `clock`, `sleep` and `rng` are
    injectable so retry timing can be tested without waiting.
    """

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: SecretStr | str | None = None,
        timeout_s: float = 20.0,
        request_timeout_s: float | None = None,
        max_attempts: int = 4,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 8.0,
        temperature: float | None = 0.0,
        max_output_tokens: int = DEFAULT_MAX_OUTPUT_TOKENS,
        http_client: httpx.Client | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        parts = urlsplit(base_url or "")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("llm_base_url: must be an http(s) URL such as https://host/v1")
        if not model or not model.strip():
            raise ValueError("llm_model: must name a model")
        if not timeout_s > 0:
            raise ValueError("llm_timeout_s: must be greater than 0")
        if request_timeout_s is not None and not request_timeout_s > 0:
            raise ValueError("llm_request_timeout_s: must be greater than 0")
        if max_attempts < 1:
            raise ValueError("llm_max_attempts: must be at least 1")
        if backoff_base_s < 0 or backoff_max_s < 0:
            raise ValueError("backoff: must not be negative")
        if max_output_tokens < 1:
            raise ValueError("max_output_tokens: must be at least 1")
        key = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
        key = key.strip() if key and key.strip() else PLACEHOLDER_API_KEY
        self.base_url = base_url
        self.model = model.strip()
        self.timeout_s = float(timeout_s)
        self.request_timeout_s = float(request_timeout_s or timeout_s)
        self.max_attempts = max_attempts
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.temperature = temperature
        self.max_output_tokens = max_output_tokens
        self._redact = SecretRedactor([key if key != PLACEHOLDER_API_KEY else None])
        redact_in_logs(key if key != PLACEHOLDER_API_KEY else None)
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(
            timeout=httpx.Timeout(self.request_timeout_s, connect=min(5.0, self.timeout_s))
        )
        self._openai = openai.OpenAI(
            base_url=base_url,
            api_key=key,
            max_retries=0,
            timeout=self.request_timeout_s,
            http_client=self._http,
        )
        # Resolved now: the SDK imports its resources lazily (~1 s on first use), which would
        # otherwise be spent inside the first call's deadline.
        self._completions = self._openai.chat.completions
        self._tokens_field = (
            "max_completion_tokens" if _uses_max_completion_tokens(base_url) else "max_tokens"
        )
        self._lock = threading.Lock()
        self._usage = LlmUsage()

    @classmethod
    def from_settings(
        cls, settings: Settings, *, http_client: httpx.Client | None = None, **overrides: Any
    ) -> LlmClient | None:
        """The client `settings` describe, or None when no LLM is configured (deterministic
        mode). A configured but invalid setting raises ValueError naming it."""
        if not settings.llm_configured:
            return None
        assert settings.llm_base_url is not None
        assert settings.llm_model is not None
        options: dict[str, Any] = {
            "base_url": settings.llm_base_url,
            "model": settings.llm_model,
            "api_key": settings.llm_api_key,
            "timeout_s": settings.llm_timeout_s,
            "request_timeout_s": settings.llm_request_timeout_s,
            "max_attempts": settings.llm_max_attempts,
            "temperature": settings.llm_temperature,
            "http_client": http_client,
        }
        options.update(overrides)
        return cls(**options)

    def __repr__(self) -> str:
        return (
            f"LlmClient(base_url={_public_url(self.base_url)!r}, model={self.model!r}, "
            f"timeout_s={self.timeout_s})"
        )

    def __enter__(self) -> LlmClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP client if this client created it (an injected one is the caller's)."""
        if self._owns_http:
            self._http.close()

    @property
    def usage(self) -> LlmUsage:
        """Tokens and calls of every call made through this client so far."""
        with self._lock:
            return self._usage.model_copy()

    def redact(self, text: str) -> str:
        """`text` with this client's API key (and anything shaped like a key) removed."""
        return self._redact(text)

    def structured(
        self,
        messages: Sequence[ChatMessage],
        schema: type[T],
        *,
        purpose: str,
        max_output_tokens: int | None = None,
    ) -> StructuredResult[T]:
        """Ask for an answer matching `schema` (strict json_schema) and validate it.

        Never raises for anything the endpoint or the model does: the result carries either the
        validated `value` or an `LlmFailure`. Returns within `timeout_s` of being called.
        """
        body = self._request_body(messages, schema, purpose, max_output_tokens)
        sent = self._send(body, purpose)
        value: T | None = None
        failure = sent.failure
        if sent.completion is not None:
            value, failure = self._read(sent.completion, schema, purpose, sent.attempts)
        if failure is not None:
            log.info("llm %s gave no answer: %s", purpose, failure.kind)
        return StructuredResult(
            value=value if failure is None else None,
            failure=failure,
            usage=sent.usage,
            attempts=sent.attempts,
            elapsed_ms=sent.elapsed_ms,
            model=self.model,
        )

    def tool_step(
        self,
        messages: Sequence[dict[str, Any]],
        tools: Sequence[dict[str, Any]],
        *,
        purpose: str,
        max_output_tokens: int | None = None,
    ) -> ToolStep:
        """One chat-completions call offering `tools` (function calling): the assistant
        message (text and/or tool calls) or why there is none. Same retries, deadline and
        redaction as `structured`; never raises for anything the endpoint or model does."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": list(messages),
            "tools": list(tools),
            self._tokens_field: max_output_tokens or self.max_output_tokens,
        }
        if self.temperature is not None:
            body["temperature"] = self.temperature
        sent = self._send(body, purpose)
        failure = sent.failure
        message = None
        if sent.completion is not None:
            message, failure = self._read_message(sent.completion, purpose, sent.attempts)
        return ToolStep(
            message=message if failure is None else None,
            failure=failure,
            usage=sent.usage,
            attempts=sent.attempts,
        )

    def _send(self, body: dict[str, Any], purpose: str) -> _Sent:
        """POST `body` with retries under the overall deadline: the completion, or the
        failure of the last attempt."""
        started = self._clock()
        deadline = started + self.timeout_s
        prompt_tokens = completion_tokens = calls = 0
        attempts = 0
        failure: LlmFailure | None = None
        completion: ChatCompletion | None = None

        while True:
            remaining = deadline - self._clock()
            if remaining <= 0:
                failure = self._failure(
                    FailureKind.TIMEOUT, "the deadline passed", purpose, attempts
                )
                break
            attempts += 1
            calls += 1
            attempt_timeout = min(self.request_timeout_s, remaining)
            finished, outcome = run_with_deadline(
                partial(self._create, body, attempt_timeout), attempt_timeout
            )
            if isinstance(outcome, ChatCompletion):
                if outcome.usage is not None:
                    prompt_tokens += outcome.usage.prompt_tokens or 0
                    completion_tokens += outcome.usage.completion_tokens or 0
                completion, failure = outcome, None
                break
            if not finished:
                error = AttemptError(
                    FailureKind.TIMEOUT, f"no answer within {attempt_timeout:.3g} s"
                )
            elif isinstance(outcome, BaseException):
                error = classify_error(outcome, self._redact)
            else:
                error = AttemptError(
                    FailureKind.MALFORMED,
                    f"the endpoint did not return a chat completion ({type(outcome).__name__})",
                )
            log.warning(
                "llm %s attempt %d failed: %s (%s)", purpose, attempts, error.kind, error.message
            )
            failure = self._failure(error.kind, error.message, purpose, attempts, error)
            if not error.retryable or attempts >= self.max_attempts:
                break
            delay = (
                error.retry_after_s
                if error.retry_after_s is not None
                else self._backoff_delay(attempts)
            )
            if self._clock() + delay >= deadline:
                failure = self._failure(
                    error.kind,
                    f"{error.message}; no time left to retry within {self.timeout_s:g} s",
                    purpose,
                    attempts,
                    error,
                )
                break
            self._sleep(delay)

        usage = LlmUsage(
            prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, calls=calls
        )
        with self._lock:
            self._usage = merge_usage(self._usage, usage)
        elapsed_ms = (self._clock() - started) * 1000.0
        return _Sent(
            completion=completion,
            failure=failure,
            usage=usage,
            attempts=attempts,
            elapsed_ms=round(elapsed_ms, 3),
        )

    def _create(self, body: dict[str, Any], timeout_s: float) -> Any:
        return self._completions.create(**body, timeout=timeout_s)

    def _backoff_delay(self, attempt: int) -> float:
        """Exponential backoff with equal jitter: half fixed, half random."""
        ceiling = min(self.backoff_max_s, self.backoff_base_s * (2 ** (attempt - 1)))
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def _failure(
        self,
        kind: FailureKind,
        message: str,
        purpose: str,
        attempts: int,
        error: AttemptError | None = None,
    ) -> LlmFailure:
        return LlmFailure(
            kind=kind,
            message=bounded(self._redact(message)),
            purpose=purpose,
            status_code=error.status_code if error else None,
            attempts=attempts,
        )

    def _request_body(
        self,
        messages: Sequence[ChatMessage],
        schema: type[BaseModel],
        purpose: str,
        max_output_tokens: int | None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [m.model_dump() for m in messages],
            "response_format": {
                "type": "json_schema",
                "json_schema": {
                    "name": schema_name(purpose or schema.__name__),
                    "schema": to_strict_json_schema(schema),
                    "strict": True,
                },
            },
            self._tokens_field: max_output_tokens or self.max_output_tokens,
        }
        if self.temperature is not None:
            body["temperature"] = self.temperature
        return body

    def _read_message(
        self, completion: ChatCompletion, purpose: str, attempts: int
    ) -> tuple[ChatCompletionMessage | None, LlmFailure | None]:
        """The assistant message of a tool-calling answer (text redacted), or the failure."""

        def fail(kind: FailureKind, message: str) -> tuple[None, LlmFailure]:
            return None, self._failure(kind, message, purpose, attempts)

        if not completion.choices:
            return fail(FailureKind.MALFORMED, "the answer has no choices")
        choice = completion.choices[0]
        message = choice.message
        if getattr(message, "refusal", None):
            return fail(FailureKind.REFUSAL, f"the model refused: {message.refusal}")
        if choice.finish_reason == "content_filter":
            return fail(FailureKind.REFUSAL, "the answer was withheld by a content filter")
        if choice.finish_reason == "length":
            return fail(FailureKind.TRUNCATED, "the answer was cut off at the token limit")
        content = message.content
        if not message.tool_calls and not (isinstance(content, str) and content.strip()):
            return fail(FailureKind.MALFORMED, "the answer has neither text nor tool calls")
        if isinstance(content, str):
            message = message.model_copy(update={"content": self._redact(content)})
        return message, None

    def _read(
        self, completion: ChatCompletion, schema: type[T], purpose: str, attempts: int
    ) -> tuple[T | None, LlmFailure | None]:
        def fail(kind: FailureKind, message: str) -> tuple[None, LlmFailure]:
            return None, self._failure(kind, message, purpose, attempts)

        if not completion.choices:
            return fail(FailureKind.MALFORMED, "the answer has no choices")
        choice = completion.choices[0]
        refusal = getattr(choice.message, "refusal", None)
        if refusal:
            return fail(FailureKind.REFUSAL, f"the model refused: {refusal}")
        if choice.finish_reason == "content_filter":
            return fail(FailureKind.REFUSAL, "the answer was withheld by a content filter")
        if choice.finish_reason == "length":
            return fail(FailureKind.TRUNCATED, "the answer was cut off at the token limit")
        content = choice.message.content
        if not isinstance(content, str):
            return fail(FailureKind.MALFORMED, "the answer has no text content")
        if not content.strip():
            return fail(FailureKind.MALFORMED, "the answer is empty")
        text = strip_code_fence(self._redact(content))
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            return fail(
                FailureKind.MALFORMED,
                f"the answer is not JSON (line {exc.lineno} column {exc.colno}: {exc.msg})",
            )
        try:
            return schema.model_validate(data), None
        except ValidationError as exc:
            return fail(
                FailureKind.INVALID,
                "the answer does not match the schema: " + "; ".join(describe(exc)),
            )
