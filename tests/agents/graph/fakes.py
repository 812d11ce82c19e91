"""Resolvers on temporary stores, and a scripted LLM endpoint behind respx."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import respx

from agents.resolver import Resolver
from guardrails.policy_schema import Policy
from tests.agents.llm_fakes import API_KEY, BASE_URL, completion
from tools.booking import CarrierAdapter
from tools.events import ExceptionEvent
from tools.network import NetworkSnapshot
from tools.settings import Settings

MODEL = "gpt-4o-2024-08-06"


def settings_for(home: Path, *, llm: bool = False, **extra: Any) -> Settings:
    values: dict[str, Any] = {"home": home, "db_url": f"sqlite:///{home / 'store.db'}"}
    if llm:
        values |= {
            "llm_base_url": BASE_URL,
            "llm_api_key": API_KEY,
            "llm_model": MODEL,
            "llm_timeout_s": 2.0,
            "llm_request_timeout_s": 1.0,
        }
    values |= extra
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@contextmanager
def open_resolver(
    home: Path,
    snapshot: NetworkSnapshot | None = None,
    *,
    llm: bool = False,
    policy: Policy | None = None,
    carrier: CarrierAdapter | None = None,
    memory: bool = False,
) -> Iterator[Resolver]:
    with Resolver.open(
        settings_for(home, llm=llm), policy=policy, carrier=carrier, use_memory=memory
    ) as resolver:
        if snapshot is not None:
            resolver.store.load_snapshot(snapshot)
        yield resolver


def offered_ids(request: httpx.Request) -> list[str]:
    """The candidate ids the advisor offered (the enum of its answer schema); [] if the
    request was not a choice (e.g. a classification)."""
    body = json.loads(request.content)
    schema = body["response_format"]["json_schema"]["schema"]
    prop = schema.get("properties", {}).get("candidate_id", {})
    return list(prop.get("enum", []))


Responder = Callable[[httpx.Request], httpx.Response]


def choose(pick: Callable[[list[str]], str], rationale: str = "Chosen by the model.") -> Responder:
    """An LLM that answers every choice with `pick(offered ids)`."""

    def respond(request: httpx.Request) -> httpx.Response:
        ids = offered_ids(request)
        answer = {"candidate_id": pick(ids) if ids else "none", "rationale": rationale}
        return httpx.Response(200, json=completion(answer))

    return respond


@contextmanager
def llm_endpoint(responder: Responder | httpx.Response) -> Iterator[respx.Route]:
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as router:
        route = router.post("/chat/completions")
        if isinstance(responder, httpx.Response):
            route.mock(return_value=responder)
        else:
            route.mock(side_effect=responder)
        yield route


def event(**fields: Any) -> ExceptionEvent:
    base: dict[str, Any] = {"occurred_at": "2026-11-24T09:05:00Z", "source": "wms"}
    return ExceptionEvent.model_validate(base | fields)


def honest_reading(**changes: Any) -> dict[str, Any]:
    """An LLM's faithful structured reading of "STORE-BOS closed by flooding"; `changes`
    override fields (hostile variants)."""
    reading: dict[str, Any] = {
        "event_type": "node_outage",
        "orders": [],
        "node": "STORE-BOS",
        "carrier": None,
        "region": None,
        "sku": None,
        "confidence": 0.9,
        "details": {
            "short_qty": None,
            "backlog_units": None,
            "capacity_units_per_day": None,
            "delay_days": None,
            "restock_at": None,
            "carrier_service": None,
        },
        "summary": "STORE-BOS closed by flooding",
    }
    return reading | changes
