"""`POST /v1/exceptions?mode=queue`: 202 `queued`, decided by a worker, then the decision."""

from __future__ import annotations

import pytest

from agents.resolver import Resolver
from agents.worker import Worker
from tests.api.conftest import Api, auth, event_body


async def test_queued_then_decided_by_a_worker(api: Api) -> None:
    body = event_body("EX-P1")
    first = await api.client.post("/v1/exceptions?mode=queue", json=body, headers=auth("operator"))
    assert first.status_code == 202, first.text
    queued = first.json()
    assert queued["exception_id"] == "EX-P1" and queued["status"] == "queued"
    assert first.headers["location"] == queued["location"] == "/v1/exceptions/EX-P1"
    again = await api.client.post("/v1/exceptions?mode=queue", json=body, headers=auth("operator"))
    assert again.status_code == 202 and again.json()["status"] == "queued"
    detail = await api.client.get("/v1/exceptions/EX-P1", headers=auth("viewer"))
    assert detail.status_code == 200 and detail.json()["status"] == "queued"
    assert api.store.held_reservations() == []  # nothing decided, nothing done yet

    with Resolver.open(api.settings, use_memory=False) as resolver:
        report = Worker(resolver).drain(once=True)
    assert report.decided == 1 and not report.failed

    decided = await api.client.post(
        "/v1/exceptions?mode=queue", json=body, headers=auth("operator")
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["exception_id"] == "EX-P1"
    assert decided.json()["status"] == "auto_resolved"
    sync = await api.post_event("EX-P1")  # the default mode answers with the same decision
    assert sync.status_code == 200 and sync.json()["actions"] == decided.json()["actions"]
    record = api.store.get_exception("EX-P1")
    assert record is not None and record.attempts == 1


async def test_queue_mode_refuses_bad_input_and_writes_nothing(api: Api) -> None:
    bad = event_body("EX-P1", orders=["O-NOPE"])
    answer = await api.client.post("/v1/exceptions?mode=queue", json=bad, headers=auth("operator"))
    assert answer.status_code == 422
    assert "O-NOPE" in answer.text
    assert api.store.get_exception("EX-P1") is None
    wrong = await api.client.post(
        "/v1/exceptions?mode=later", json=event_body("EX-P1"), headers=auth("operator")
    )
    assert wrong.status_code == 422 and api.store.get_exception("EX-P1") is None
    viewer = await api.client.post(
        "/v1/exceptions?mode=queue", json=event_body("EX-P1"), headers=auth("viewer")
    )
    assert viewer.status_code == 403


def test_worker_refuses_zero_concurrency() -> None:
    with pytest.raises(ValueError, match="concurrency"):
        Worker(None, concurrency=0)  # type: ignore[arg-type]
