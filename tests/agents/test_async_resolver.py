"""The AsyncResolver shares the Resolver's logic: same decisions, same idempotency, the same
approval compare-and-set, and it finishes what the sync one left (same checkpoints)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agents.async_resolver import AsyncResolver
from agents.resolver import ApprovalAlreadyDecided, ApprovalNotFound, Resolver
from agents.state import HumanDecision
from tests.conftest import CONTRACT_EXAMPLES
from tools.inputs import InputError, load_event, load_snapshot
from tools.settings import Settings

EVENTS = sorted((CONTRACT_EXAMPLES / "events").glob("*.json"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{(tmp_path / 'execlayer.db').as_posix()}"
    url: str = request.getfixturevalue("pg_url")
    return url


def settings_for(tmp_path: Path) -> Settings:
    return Settings(_env_file=None, home=tmp_path)  # type: ignore[call-arg]


def comparable(decision_json: dict) -> dict:  # type: ignore[type-arg]
    """The decision without what measures wall-clock time (latency, solver seconds)."""
    candidates = [
        {**c, "score": {k: v for k, v in c["score"].items() if k != "notes"}}
        for c in decision_json["candidates"]
    ]
    return {k: v for k, v in decision_json.items() if k not in ("latency_ms", "decided_at")} | {
        "candidates": candidates,
        "approval": {
            k: v for k, v in (decision_json.get("approval") or {}).items() if k != "requested_at"
        },
    }


async def test_same_decisions_as_the_sync_resolver(tmp_path: Path) -> None:
    network = load_snapshot(CONTRACT_EXAMPLES / "network-northeast.json")
    sync_dir, async_dir = tmp_path / "sync", tmp_path / "async"
    with Resolver.open(settings_for(sync_dir), use_llm=False, use_memory=False) as resolver:
        resolver.store.load_snapshot(network)
        expected = [resolver.resolve(load_event(p)).model_dump(mode="json") for p in EVENTS]
    async with AsyncResolver.open(
        settings_for(async_dir), use_llm=False, use_memory=False
    ) as aresolver:
        await asyncio.to_thread(aresolver.store.load_snapshot, network)
        got = [(await aresolver.resolve(load_event(p))).model_dump(mode="json") for p in EVENTS]
    assert [comparable(d) for d in got] == [comparable(d) for d in expected]


async def test_resolve_approve_and_exactly_one_winner(tmp_path: Path, db_url: str) -> None:
    async with AsyncResolver.open(
        settings_for(tmp_path), db_url=db_url, use_llm=False, use_memory=False
    ) as resolver:
        await asyncio.to_thread(
            resolver.store.load_snapshot,
            load_snapshot(CONTRACT_EXAMPLES / "network-northeast.json"),
        )
        event = load_event(CONTRACT_EXAMPLES / "events" / "EX-P4.json")
        first, second = await asyncio.gather(resolver.resolve(event), resolver.resolve(event))
        assert first == second and first.status.value == "pending_approval"
        humans = [HumanDecision(decision="approve", actor=f"p{i}") for i in range(5)]
        results = await asyncio.gather(
            *(resolver.decide_approval("AP-EX-P4", h) for h in humans), return_exceptions=True
        )
        wins = [r for r in results if not isinstance(r, BaseException)]
        losses = [r for r in results if isinstance(r, ApprovalAlreadyDecided)]
        assert len(wins) == 1 and len(losses) == 4
        assert wins[0].status.value == "resolved"
        assert all(loss.decision is not None for loss in losses)
        with pytest.raises(ApprovalNotFound):
            await resolver.decide_approval("AP-NOPE", humans[0])
        with pytest.raises(InputError):
            await resolver.resolve(event.model_copy(update={"id": "EX-X", "orders": ["O-NOPE"]}))
        assert await resolver.decision("EX-X") is None


async def test_finishes_what_the_sync_resolver_left(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    with Resolver.open(settings, use_llm=False, use_memory=False) as resolver:
        resolver.store.load_snapshot(load_snapshot(CONTRACT_EXAMPLES / "network-northeast.json"))
        resolver.resolve(load_event(CONTRACT_EXAMPLES / "events" / "EX-P4.json"))
        resolver.claim_approval("AP-EX-P4", HumanDecision(decision="reject", actor="cli:me"))
    async with AsyncResolver.open(settings, use_llm=False, use_memory=False) as aresolver:
        finished = await aresolver.recover()
        assert [d.status.value for d in finished] == ["rejected"]
        assert await aresolver.recover() == []  # nothing left: never twice
        decision = await aresolver.decision("EX-P4")
        assert decision is not None and decision.approval is not None
        assert decision.approval.decided_by == "cli:me"
