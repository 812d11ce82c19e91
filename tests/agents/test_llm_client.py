"""LlmClient against respx-mocked chat completions: structured output, failures, retries,
the overall deadline, token accounting and secrecy of the API key."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
import respx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, SecretStr

from agents.llm_client import (
    PLACEHOLDER_API_KEY,
    ChatMessage,
    LlmClient,
    merge_usage,
    schema_name,
    strip_code_fence,
)
from agents.llm_failures import FailureKind, SecretRedactor, retry_after_seconds
from tests.agents.llm_fakes import (
    API_KEY,
    BASE_URL,
    FakeClock,
    completion,
    ok,
    recorded,
    recorded_429,
    sent_json,
)
from tools.decisions import LlmUsage
from tools.settings import Settings

MakeClient = Callable[..., LlmClient]


class Location(BaseModel):
    """The answer schema of the recorded OpenAI responses."""

    city: str
    temperature: float
    units: str


MESSAGES = [
    ChatMessage(role="system", content="Answer as JSON."),
    ChatMessage(role="user", content="What's the weather like in SF?"),
]


def ask(client: LlmClient) -> object:
    return client.structured(MESSAGES, Location, purpose="weather")


# ----------------------------------------------------------------------- good answers


def test_recorded_structured_answer_is_validated(make_client: MakeClient, llm_route: respx.Route):
    llm_route.mock(return_value=httpx.Response(200, json=recorded("test_parse_pydantic_model")))
    result = make_client().structured(MESSAGES, Location, purpose="weather")
    assert result.ok
    assert result.value == Location(city="San Francisco", temperature=65, units="f")
    assert result.failure is None
    assert result.usage == LlmUsage(prompt_tokens=79, completion_tokens=14, calls=1)
    assert result.attempts == 1


def test_request_asks_for_strict_json_schema(make_client: MakeClient, llm_route: respx.Route):
    llm_route.mock(return_value=httpx.Response(200, json=recorded("test_parse_pydantic_model")))
    make_client().structured(MESSAGES, Location, purpose="weather report")
    request = llm_route.calls.last.request
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    body = sent_json(llm_route)
    assert body["model"] == "gpt-4o-2024-08-06"
    assert body["messages"] == [m.model_dump() for m in MESSAGES]
    assert body["temperature"] == 0.0
    assert body["max_tokens"] == 800  # a local/compatible endpoint gets max_tokens
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "weather_report"
    assert fmt["json_schema"]["strict"] is True
    schema = fmt["json_schema"]["schema"]
    assert schema["additionalProperties"] is False
    assert sorted(schema["required"]) == ["city", "temperature", "units"]


def test_openai_host_gets_max_completion_tokens():
    with respx.mock(base_url="https://api.openai.com/v1") as router:
        route = router.post("/chat/completions").mock(return_value=ok({"city": "x"}))
        client = LlmClient(base_url="https://api.openai.com/v1", model="gpt-5", temperature=None)
        client.structured(MESSAGES, Location, purpose="w")
        body = sent_json(route)
        client.close()
    assert body["max_completion_tokens"] == 800
    assert "max_tokens" not in body
    assert "temperature" not in body


def test_fenced_json_from_local_models_is_accepted(make_client: MakeClient, llm_route):
    fenced = '```json\n{"city": "Boston", "temperature": 3, "units": "c"}\n```'
    llm_route.mock(return_value=ok(fenced))
    result = ask(make_client())
    assert result.value == Location(city="Boston", temperature=3, units="c")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('```json\n{"a": 1}\n```', '{"a": 1}'),
        ('```\n{"a": 1}\n```', '{"a": 1}'),
        ('  {"a": 1}  ', '{"a": 1}'),
        ('prefix ```json\n{"a": 1}\n```', 'prefix ```json\n{"a": 1}\n```'),
    ],
)
def test_strip_code_fence(text: str, expected: str):
    assert strip_code_fence(text) == expected


def test_schema_name_is_api_safe():
    assert schema_name("choose candidate!") == "choose_candidate"
    assert schema_name("") == "answer"
    assert len(schema_name("x" * 100)) == 64


# ------------------------------------------------------------------ answers that fail


def test_recorded_refusal_is_a_refusal_failure(make_client: MakeClient, llm_route: respx.Route):
    body = recorded("test_parse_pydantic_model_refusal")
    llm_route.mock(return_value=httpx.Response(200, json=body))
    result = ask(make_client())
    assert result.value is None
    assert result.failure.kind is FailureKind.REFUSAL
    assert "can't assist" in result.failure.message
    assert result.usage.completion_tokens == 12  # tokens are spent even on a refusal
    assert llm_route.call_count == 1  # a refusal is not retried


def test_recorded_truncated_answer_is_truncated(make_client: MakeClient, llm_route: respx.Route):
    body = recorded("test_parse_max_tokens_reached")
    assert body["choices"][0]["finish_reason"] == "length"
    llm_route.mock(return_value=httpx.Response(200, json=body))
    result = ask(make_client())
    assert result.value is None
    assert result.failure.kind is FailureKind.TRUNCATED
    assert result.usage == LlmUsage(prompt_tokens=79, completion_tokens=1, calls=1)
    assert llm_route.call_count == 1


def test_content_filter_is_a_refusal(make_client: MakeClient, llm_route: respx.Route):
    llm_route.mock(return_value=ok(None, finish_reason="content_filter"))
    assert ask(make_client()).failure.kind is FailureKind.REFUSAL


@pytest.mark.parametrize(
    "content",
    ['{"city": "Boston", "temperature": ', "Sure! The weather is nice.", "", "   ", None],
    ids=["cut-json", "prose", "empty", "blank", "null"],
)
def test_malformed_answers(make_client: MakeClient, llm_route: respx.Route, content):
    llm_route.mock(return_value=ok(content))
    result = ask(make_client())
    assert result.value is None
    assert result.failure.kind is FailureKind.MALFORMED
    assert llm_route.call_count == 1


@pytest.mark.parametrize(
    "content",
    [
        {"city": "Boston"},
        {"city": "Boston", "temperature": "warm", "units": "c"},
        ["Boston", 3, "c"],
    ],
    ids=["missing-fields", "wrong-type", "array"],
)
def test_schema_invalid_answers(make_client: MakeClient, llm_route: respx.Route, content):
    llm_route.mock(return_value=ok(content))
    result = ask(make_client())
    assert result.value is None
    assert result.failure.kind is FailureKind.INVALID
    assert "does not match the schema" in result.failure.message


def test_no_choices_is_malformed(make_client: MakeClient, llm_route: respx.Route):
    body = completion("{}")
    body["choices"] = []
    llm_route.mock(return_value=httpx.Response(200, json=body))
    assert ask(make_client()).failure.kind is FailureKind.MALFORMED


def test_non_json_http_body_is_a_failure_not_an_exception(make_client: MakeClient, llm_route):
    llm_route.mock(
        return_value=httpx.Response(
            200, text="<html>proxy</html>", headers={"content-type": "text/html"}
        )
    )
    result = ask(make_client())
    assert result.value is None
    assert result.failure.kind is FailureKind.MALFORMED


# ---------------------------------------------------------------------------- retries


def test_429_is_retried_then_succeeds(
    make_client: MakeClient, llm_route: respx.Route, fake_clock: FakeClock
):
    limited = httpx.Response(429, json=recorded_429("rate limit (tokens per minute)"))
    llm_route.side_effect = [limited, limited, ok({"city": "a", "temperature": 1, "units": "c"})]
    result = ask(make_client(backoff_base_s=0.5))
    assert result.ok
    assert llm_route.call_count == 3
    assert result.attempts == 3
    assert result.usage.calls == 3
    # exponential backoff with equal jitter: attempt n waits between base*2^(n-1)/2 and base*2^(n-1)
    assert len(fake_clock.sleeps) == 2
    assert 0.25 <= fake_clock.sleeps[0] <= 0.5
    assert 0.5 <= fake_clock.sleeps[1] <= 1.0


def test_retry_after_header_is_honoured(
    make_client: MakeClient, llm_route: respx.Route, fake_clock: FakeClock
):
    limited = httpx.Response(429, json={"error": {}}, headers={"retry-after": "1.5"})
    llm_route.side_effect = [limited, ok({"city": "a", "temperature": 1, "units": "c"})]
    assert ask(make_client()).ok
    assert fake_clock.sleeps == [1.5]


def test_retry_after_beyond_the_deadline_gives_up_at_once(
    make_client: MakeClient, llm_route: respx.Route, fake_clock: FakeClock
):
    # The SDK's own test stub: retry-after 121 s, far beyond a 20 s deadline.
    limited = httpx.Response(429, json={"error": {}}, headers={"retry-after": "121"})
    llm_route.mock(return_value=limited)
    result = ask(make_client())
    assert result.failure.kind is FailureKind.RATE_LIMITED
    assert "no time left" in result.failure.message
    assert llm_route.call_count == 1
    assert fake_clock.sleeps == []


def test_insufficient_quota_429_is_not_retried(make_client: MakeClient, llm_route: respx.Route):
    llm_route.mock(return_value=httpx.Response(429, json=recorded_429("quota exhausted")))
    result = ask(make_client())
    assert result.failure.kind is FailureKind.QUOTA
    assert result.failure.status_code == 429
    assert llm_route.call_count == 1


def test_500_retried_until_attempts_run_out(
    make_client: MakeClient, llm_route: respx.Route, fake_clock: FakeClock
):
    llm_route.mock(return_value=httpx.Response(500, json={"error": {"message": "boom"}}))
    result = ask(make_client(max_attempts=3))
    assert result.failure.kind is FailureKind.SERVER_ERROR
    assert result.failure.attempts == 3
    assert llm_route.call_count == 3
    assert result.usage.calls == 3


def test_500_gives_up_within_the_deadline(
    make_client: MakeClient, llm_route: respx.Route, fake_clock: FakeClock
):
    llm_route.mock(return_value=httpx.Response(503, json={"error": {"message": "overloaded"}}))
    client = make_client(timeout_s=3.0, max_attempts=50, backoff_base_s=0.5, backoff_max_s=2.0)
    started = fake_clock.now
    result = ask(client)
    assert result.failure.kind is FailureKind.SERVER_ERROR
    assert fake_clock.now - started < 3.0  # never slept past the deadline
    assert 2 <= llm_route.call_count < 50


def test_x_should_retry_false_is_obeyed(make_client: MakeClient, llm_route: respx.Route):
    llm_route.mock(
        return_value=httpx.Response(503, json={"error": {}}, headers={"x-should-retry": "false"})
    )
    assert ask(make_client()).failure.kind is FailureKind.SERVER_ERROR
    assert llm_route.call_count == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_other_http_errors_are_not_retried(make_client: MakeClient, llm_route, status: int):
    llm_route.mock(return_value=httpx.Response(status, json={"error": {"message": "nope"}}))
    result = ask(make_client())
    assert result.failure.kind is FailureKind.HTTP_ERROR
    assert result.failure.status_code == status
    assert llm_route.call_count == 1


def test_connection_error_is_retried_then_succeeds(make_client: MakeClient, llm_route):
    llm_route.side_effect = [
        httpx.ConnectError("connection refused"),
        ok({"city": "a", "temperature": 1, "units": "c"}),
    ]
    result = ask(make_client())
    assert result.ok
    assert llm_route.call_count == 2


def test_connection_error_every_time_is_a_connection_failure(make_client: MakeClient, llm_route):
    llm_route.side_effect = httpx.ConnectError("connection refused")
    result = ask(make_client(max_attempts=2))
    assert result.failure.kind is FailureKind.CONNECTION
    assert llm_route.call_count == 2


def test_read_timeout_is_a_retried_timeout(make_client: MakeClient, llm_route):
    llm_route.side_effect = httpx.ReadTimeout("read timed out")
    result = ask(make_client(max_attempts=2))
    assert result.failure.kind is FailureKind.TIMEOUT
    assert llm_route.call_count == 2


def test_a_hanging_server_hits_the_total_deadline(llm_route: respx.Route):
    """The server never answers within the deadline: the call returns a timeout failure while
    the server is still stuck (no timing assert: the server's own state proves we left)."""
    release = threading.Event()
    entered = threading.Event()

    def hang(request: httpx.Request) -> httpx.Response:
        entered.set()
        release.wait(10)
        return ok({"city": "late", "temperature": 0, "units": "c"})

    llm_route.side_effect = hang
    client = LlmClient(base_url=BASE_URL, model="m", api_key=API_KEY, timeout_s=0.5)
    try:
        started = time.monotonic()
        result = ask(client)
        elapsed = time.monotonic() - started
        still_hanging = not release.is_set()
    finally:
        release.set()
        client.close()
    print(f"\nhanging server: returned after {elapsed * 1000:.0f} ms (deadline 500 ms)")
    assert entered.is_set()
    assert still_hanging
    assert result.value is None
    assert result.failure.kind is FailureKind.TIMEOUT
    assert result.attempts == 1  # the deadline left no room for another attempt


# ------------------------------------------------------------------------------ usage


def test_usage_accumulates_per_client_and_merges(make_client: MakeClient, llm_route):
    llm_route.side_effect = [
        ok({"city": "a", "temperature": 1, "units": "c"}, prompt_tokens=100, completion_tokens=10),
        ok("not json", prompt_tokens=50, completion_tokens=5),
        httpx.Response(429, json=recorded_429("quota exhausted")),
    ]
    client = make_client()
    results = [ask(client) for _ in range(3)]
    assert [r.usage for r in results] == [
        LlmUsage(prompt_tokens=100, completion_tokens=10, calls=1),
        LlmUsage(prompt_tokens=50, completion_tokens=5, calls=1),
        LlmUsage(prompt_tokens=0, completion_tokens=0, calls=1),
    ]
    assert client.usage == LlmUsage(prompt_tokens=150, completion_tokens=15, calls=3)
    assert merge_usage(*(r.usage for r in results)) == client.usage
    assert client.usage.total_tokens == 165


# ------------------------------------------------------------------------------ secrecy


def test_api_key_never_in_logs_reprs_or_failures(
    make_client: MakeClient, llm_route: respx.Route, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    echo = {
        "error": {"message": f"Incorrect API key provided: {API_KEY}.", "code": "invalid_api_key"}
    }
    llm_route.side_effect = [
        httpx.Response(401, json=echo),
        httpx.Response(500, json={"error": {"message": f"upstream said {API_KEY}"}}),
        httpx.ConnectError(f"proxy refused Bearer {API_KEY}"),
        ok(f"leaked {API_KEY}"),
        ok({"city": API_KEY, "temperature": 1, "units": "c"}),
    ]
    client = make_client(max_attempts=1)
    results = [ask(client) for _ in range(5)]
    seen = [
        caplog.text,
        repr(client),
        str(client.__dict__.get("_redact")),
        *(r.model_dump_json() for r in results),
        *(repr(r) for r in results),
    ]
    for text in seen:
        assert API_KEY not in text
    assert results[0].failure.kind is FailureKind.HTTP_ERROR
    assert "[redacted]" in results[0].failure.message
    assert results[4].value.city == "[redacted]"  # a model cannot echo the key back either


def test_credentials_in_the_base_url_stay_out_of_the_repr():
    client = LlmClient(base_url="https://user:pw-123@llm.example/v1?key=abc", model="m")
    try:
        assert "pw-123" not in repr(client)
        assert "abc" not in repr(client)
        assert "llm.example/v1" in repr(client)
    finally:
        client.close()


def test_redactor_masks_key_shapes_but_not_short_placeholders():
    redact = SecretRedactor([API_KEY, "short", None])
    assert redact(f"a {API_KEY} b") == "a [redacted] b"
    assert redact("sk-proj-abcdefgh12345") == "[redacted]"
    assert redact("Authorization: Bearer abcdef123456") == "Authorization: [redacted]"
    assert redact("a short text") == "a short text"


# ----------------------------------------------------------------------------- settings


def test_from_settings_is_none_without_an_llm():
    assert LlmClient.from_settings(Settings(_env_file=None)) is None
    assert LlmClient.from_settings(Settings(_env_file=None, llm_base_url="http://x/v1")) is None


def test_from_settings_builds_a_configured_client(llm_route: respx.Route):
    settings = Settings(
        _env_file=None,
        llm_base_url=BASE_URL,
        llm_model="llama3.1",
        llm_timeout_s=7.5,
        llm_request_timeout_s=3.0,
        llm_max_attempts=2,
    )
    client = LlmClient.from_settings(settings)
    assert client is not None
    try:
        assert (client.model, client.timeout_s, client.request_timeout_s) == ("llama3.1", 7.5, 3.0)
        assert client.max_attempts == 2
        llm_route.mock(return_value=ok({"city": "a", "temperature": 1, "units": "c"}))
        assert ask(client).ok
        sent = llm_route.calls.last.request.headers["authorization"]
        assert sent == f"Bearer {PLACEHOLDER_API_KEY}"  # Ollama/vLLM need no key
    finally:
        client.close()


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("EXECLAYER_LLM_BASE_URL", BASE_URL)
    monkeypatch.setenv("EXECLAYER_LLM_MODEL", "m")
    monkeypatch.setenv("EXECLAYER_LLM_API_KEY", API_KEY)
    monkeypatch.setenv("EXECLAYER_LLM_TEMPERATURE", "")
    settings = Settings(_env_file=None)
    assert settings.llm_temperature is None
    assert API_KEY not in repr(settings)
    client = LlmClient.from_settings(settings)
    assert client is not None
    assert client.temperature is None
    assert API_KEY not in repr(client)
    client.close()


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"base_url": "ftp://x"}, "llm_base_url"),
        ({"base_url": "not a url"}, "llm_base_url"),
        ({"model": " "}, "llm_model"),
        ({"timeout_s": 0}, "llm_timeout_s"),
        ({"timeout_s": -1}, "llm_timeout_s"),
        ({"request_timeout_s": 0}, "llm_request_timeout_s"),
        ({"max_attempts": 0}, "llm_max_attempts"),
    ],
)
def test_bad_configuration_names_the_field(options: dict, field: str):
    base = {"base_url": BASE_URL, "model": "m", "api_key": SecretStr(API_KEY)}
    with pytest.raises(ValueError, match=field) as info:
        LlmClient(**{**base, **options})
    assert API_KEY not in str(info.value)


# -------------------------------------------------------------------------- retry-after


def test_retry_after_parsing():
    now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    assert retry_after_seconds({"retry-after-ms": "250"}) == 0.25
    assert retry_after_seconds({"Retry-After": "3"}) == 3.0
    assert retry_after_seconds({"retry-after": "0.5"}) == 0.5
    http_date = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert retry_after_seconds({"retry-after": http_date}, now=now) == 30.0
    assert retry_after_seconds({"retry-after-ms": "x", "retry-after": "2"}) == 2.0
    for junk in ("soon", "-1", "nan", "inf"):
        assert retry_after_seconds({"retry-after": junk}) is None
    assert retry_after_seconds({}) is None


# ------------------------------------------------------------------------------ property


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    content=st.one_of(
        st.text(max_size=200),
        st.dictionaries(st.text(max_size=8), st.integers() | st.text(max_size=8), max_size=4).map(
            json.dumps
        ),
        st.none(),
    ),
    finish=st.sampled_from(["stop", "length", "content_filter", "tool_calls"]),
    status=st.sampled_from([200, 200, 200, 400, 429, 500, 502]),
)
def test_any_answer_gives_a_value_or_a_typed_failure(content, finish, status):
    clock = FakeClock()
    with respx.mock(base_url=BASE_URL) as router:
        body = completion(content, finish_reason=finish) if status == 200 else {"error": {}}
        router.post("/chat/completions").mock(return_value=httpx.Response(status, json=body))
        client = LlmClient(
            base_url=BASE_URL, model="m", api_key=API_KEY, clock=clock, sleep=clock.sleep
        )
        result = client.structured(MESSAGES, Location, purpose="p")
        client.close()
    assert (result.value is None) != (result.failure is None)
    if result.failure is not None:
        assert isinstance(result.failure.kind, FailureKind)
        assert API_KEY not in result.failure.message
    assert result.usage.calls == result.attempts >= 1


def test_a_trickling_real_server_cannot_hold_the_call_past_the_deadline():
    """A real socket server that sends headers, then one byte every 50 ms, forever: no single
    read ever times out, so only the overall deadline can end the call."""
    import socket

    stop = threading.Event()
    received = threading.Event()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(5)
    port = listener.getsockname()[1]

    def serve() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            conn.recv(65536)
            received.set()
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: 100000\r\n\r\n"
            )
            while not stop.wait(0.05):
                try:
                    conn.sendall(b" ")
                except OSError:
                    return

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    client = LlmClient(base_url=f"http://127.0.0.1:{port}/v1", model="m", timeout_s=1.0)
    try:
        started = time.monotonic()
        result = ask(client)
        elapsed = time.monotonic() - started
        server_still_sending = received.is_set() and server.is_alive()
    finally:
        stop.set()
        listener.close()
        client.close()
        server.join(5)
    print(f"\ntrickling server: returned after {elapsed * 1000:.0f} ms (deadline 1000 ms)")
    assert server_still_sending
    assert result.failure.kind is FailureKind.TIMEOUT
