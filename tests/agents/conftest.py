"""Fixtures for the advisor and memory tests (helpers live in `llm_fakes`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import respx

from agents.llm_client import LlmClient
from tests.agents.llm_fakes import API_KEY, BASE_URL, FakeClock, candidate
from tools.decisions import ActionType, Candidate
from tools.inputs import load_snapshot
from tools.view import NetworkView


@pytest.fixture
def llm_route() -> Iterator[respx.Route]:
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as router:
        yield router.post("/chat/completions")


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_client(fake_clock: FakeClock) -> Iterator[Callable[..., LlmClient]]:
    """Clients against the respx-mocked endpoint; fast backoff on the fake clock by default."""
    made: list[LlmClient] = []

    def make(**overrides: Any) -> LlmClient:
        options: dict[str, Any] = {
            "base_url": BASE_URL,
            "model": "gpt-4o-2024-08-06",
            "api_key": API_KEY,
            "timeout_s": 20.0,
            "backoff_base_s": 0.5,
            "clock": fake_clock,
            "sleep": fake_clock.sleep,
        }
        options.update(overrides)
        client = LlmClient(**options)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture(scope="session")
def northeast(northeast_path: Path) -> NetworkView:
    return NetworkView.of(load_snapshot(northeast_path))


@pytest.fixture
def candidates() -> list[Candidate]:
    """c1 best by score; c2 a faster, dearer option; c3 denied by the policy (over capacity)."""
    return [
        candidate("O-1001:c1", "reallocate", 12.4, node="DC-NJ", cost_delta=3.1, on_time=0.97),
        candidate("O-1001:c2", "reallocate", 14.0, node="STORE-CAM", cost_delta=1.0, on_time=0.99),
        candidate(
            "O-1001:c3",
            "cancel_lines",
            2.0,
            action=ActionType.CANCEL_LINES,
            deny=True,
        ),
    ]
