"""`precedents ...`: similar past cases from the real precedent memory (in-memory chromadb with
the bundled embedding model), and a plain answer when the memory fails."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from agents.assistant import Assistant
from agents.memory import PrecedentMemory
from agents.precedents import Precedent, PrecedentOutcome
from tests.agents.assistant.conftest import VIEWER, Desk
from tools.decisions import DecidedBy, DecisionStatus
from tools.events import EventType


def test_precedents_from_memory_and_when_it_fails(desk: Desk) -> None:
    memory = PrecedentMemory.open(None)
    memory.remember(
        Precedent(
            exception_id="EX-OLD",
            event_type=EventType.NODE_OVERLOAD,
            text="Store STORE-BOS buried under a promotion surge; one gold order moved to DC-NJ.",
            status=DecisionStatus.AUTO_RESOLVED,
            chosen_kind="reallocate",
            actions_summary="reallocate O-9 -> DC-NJ via PARCELCO-TWO_DAY",
            decided_by=DecidedBy.POLICY,
            cost_delta=3.1,
            recorded_at=datetime(2026, 11, 1, tzinfo=UTC),
            outcome=PrecedentOutcome(promise_kept=True),
        )
    )
    backend = dataclasses.replace(desk.backend, memory=memory)
    assistant = Assistant(backend)
    found = assistant.ask(VIEWER, "s1", "precedents a store overloaded by a promotion")
    assert found.answer.startswith("Similar past cases:\n- EX-OLD (node_overload, auto_resolved")
    assert "reallocate O-9 -> DC-NJ" in found.answer and "promise kept" in found.answer
    memory.close()  # the in-memory collection is dropped: the next search fails
    failed = assistant.ask(VIEWER, "s1", "precedents a store overloaded by a promotion")
    assert failed.answer.startswith("No precedents: precedent memory is unavailable: ")
    assert failed.tool_calls[0].status == "ok"  # a degraded read, not a crash
