"""A scripted LLM for the assistant: the recorded OpenAI tool-call responses (respx-served)
with our tool names and arguments, then a text answer."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import respx

from tests.agents.llm_fakes import BASE_URL, DATA, completion

_TOOL_CALLS = json.loads((DATA / "chat_completion_tool_calls.live.json").read_text())


def tool_calls(*calls: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """The recorded parallel tool-call response, its calls replaced by `calls`."""
    example = next(
        e for e in _TOOL_CALLS["examples"] if e["test"] == "test_parse_multiple_pydantic_tools"
    )
    body = copy.deepcopy(example["response"])
    recorded = body["choices"][0]["message"]["tool_calls"]
    body["choices"][0]["message"]["tool_calls"] = [
        {
            **recorded[i % len(recorded)],
            "id": f"call_{i}",
            "function": {"name": name, "arguments": json.dumps(args)},
        }
        for i, (name, args) in enumerate(calls)
    ]
    assert body["choices"][0]["finish_reason"] == "tool_calls"
    return body


def say(text: str) -> dict[str, Any]:
    return completion(text)


class Script:
    """Answers each request with the next scripted body (the last one repeats)."""

    def __init__(self, *steps: dict[str, Any] | httpx.Response) -> None:
        self.steps = list(steps)
        self.requests: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(json.loads(request.content))
        step = self.steps[min(len(self.requests) - 1, len(self.steps) - 1)]
        return step if isinstance(step, httpx.Response) else httpx.Response(200, json=step)

    def offered(self, index: int = 0) -> list[str]:
        return [t["function"]["name"] for t in self.requests[index]["tools"]]

    def tool_messages(self, index: int) -> list[dict[str, Any]]:
        return [
            json.loads(m["content"])
            for m in self.requests[index]["messages"]
            if m["role"] == "tool"
        ]


@contextmanager
def scripted(script: Script | Any) -> Iterator[respx.Route]:
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as router:
        yield router.post("/chat/completions").mock(side_effect=script)
