"""Helpers for the advisor tests: recorded OpenAI responses (served through respx), a fake
clock, and hand-made candidates over the northeast example network."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import respx

from tools.decisions import Action, ActionType, Candidate, Outcome, ScoreBreakdown, Verdict
from tools.events import ExceptionEvent

DATA = Path(__file__).parent / "data"
BASE_URL = "http://llm.test/v1"
API_KEY = "sk-test-EXECLAYER-secret-0123456789abcdef"

_STRUCTURED = json.loads((DATA / "chat_completion_structured_output.live.json").read_text())
_RATE_LIMITS = json.loads((DATA / "rate_limit_429_examples.json").read_text())


def recorded(test_name: str) -> dict[str, Any]:
    """A recorded structured-output response by the name of the SDK test that produced it."""
    for example in _STRUCTURED["examples"]:
        if example["test"] == test_name:
            return copy.deepcopy(example["response"])
    raise KeyError(test_name)


def recorded_429(kind_prefix: str) -> dict[str, Any]:
    for example in _RATE_LIMITS["examples"]:
        if example["kind"].startswith(kind_prefix) and "body" in example:
            return copy.deepcopy(example["body"])
    raise KeyError(kind_prefix)


def completion(
    content: str | dict[str, Any] | list[Any] | None,
    *,
    prompt_tokens: int = 120,
    completion_tokens: int = 30,
    finish_reason: str = "stop",
) -> dict[str, Any]:
    """The recorded successful response with its answer replaced by `content`."""
    body = recorded("test_parse_pydantic_model")
    if isinstance(content, dict | list):
        content = json.dumps(content)
    body["choices"][0]["message"]["content"] = content
    body["choices"][0]["finish_reason"] = finish_reason
    body["usage"] = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    return body


def ok(content: str | dict[str, Any] | list[Any] | None, **kw: Any) -> httpx.Response:
    return httpx.Response(200, json=completion(content, **kw))


def sent_json(route: respx.Route, index: int = -1) -> dict[str, Any]:
    return json.loads(route.calls[index].request.content)


class FakeClock:
    """A monotonic clock that only moves when the client sleeps (retry timing without waiting)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


T0 = datetime(2026, 11, 24, 9, 5, tzinfo=UTC)


def overload_event(text: str | None = None) -> ExceptionEvent:
    return ExceptionEvent(
        id="EX-T1",
        type="node_overload",
        occurred_at=T0,
        source="wms",
        orders=["O-1001"],
        node="STORE-BOS",
        text=text,
    )


def candidate(
    cid: str,
    kind: str,
    total: float,
    *,
    node: str | None = None,
    action: ActionType = ActionType.REALLOCATE,
    deny: bool = False,
    cost_delta: float = 0.0,
    on_time: float = 0.9,
) -> Candidate:
    verdicts = (
        [Verdict(rule="max_node_utilization", outcome=Outcome.DENY, reason="over capacity")]
        if deny
        else [Verdict(rule="max_cost_increase_per_order", outcome=Outcome.ALLOW, reason="ok")]
    )
    return Candidate(
        id=cid,
        kind=kind,
        summary=f"{kind} O-1001" + (f" to {node}" if node else ""),
        actions=[
            Action(
                type=action,
                order="O-1001",
                node=node,
                carrier_service="PARCELCO-TWO_DAY" if node else None,
                cost_delta=cost_delta,
            )
        ],
        orders=["O-1001"],
        score=ScoreBreakdown(total=total, shipping=total * 0.6, lateness_risk=total * 0.4),
        cost_delta=cost_delta,
        eta=datetime(2026, 11, 26, 18, tzinfo=UTC),
        on_time_probability=on_time,
        verdicts=verdicts,
    )
