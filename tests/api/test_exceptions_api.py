"""`POST/GET /v1/exceptions`: status codes, idempotency, bad input names the field and writes
nothing, a stopped resolution answers 503."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.api.conftest import Api, api_settings, auth, event_body, open_api
from tools.booking import BookingRequest, SimulatedCarrier
from tools.decisions import Decision


def exception_rows(api: Api) -> int:
    return len(api.store.list_exceptions(limit=1000))


async def test_auto_resolved_is_200_with_the_contract_decision(api: Api) -> None:
    response = await api.post_event("EX-P1")
    assert response.status_code == 200
    decision = Decision.model_validate(response.json())
    assert decision.exception_id == "EX-P1"
    assert decision.status.value == "auto_resolved"
    assert decision.actions and decision.chosen
    assert decision.candidates and decision.verdicts


async def test_pending_approval_is_202(api: Api) -> None:
    response = await api.post_event("EX-P4")
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "pending_approval"
    assert body["approval"]["id"] == "AP-EX-P4"
    assert body["approval"]["reasons"]


async def test_same_id_twice_returns_the_first_decision_and_acts_once(api: Api) -> None:
    first = await api.post_event("EX-P1")
    again = await api.post_event("EX-P1", text="a different body, same id")
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    applied = [a for a in api.store.audit_trail("EX-P1").actions if a.status == "applied"]
    assert len(applied) == len(first.json()["actions"])


async def test_concurrent_duplicates_resolve_once(api: Api) -> None:
    answers = await asyncio.gather(*(api.post_event("EX-P4") for _ in range(4)))
    assert {a.status_code for a in answers} == {202}
    assert len({a.json()["approval"]["id"] for a in answers}) == 1
    assert len(api.store.list_approvals(exception_id="EX-P4")) == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"orders": ["O-NOPE"]}, "orders[0]"),
        ({"node": "NODE-NOPE"}, "node"),
        ({"carrier": "CARRIER-NOPE"}, "carrier"),
        ({"sku": "SKU-NOPE"}, "sku"),
        ({"region": "ATLANTIS"}, "region"),
        ({"type": "meteor_strike"}, "type"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"occurred_at": "2026-11-24T09:05:00"}, "occurred_at"),  # naive: no zone
        ({"id": "has spaces"}, "id"),
        ({"unexpected": 1}, "unexpected"),
        ({"text": "x" * 4001}, "text"),
    ],
)
async def test_bad_input_is_422_naming_the_field_and_writes_nothing(
    api: Api, changes: dict[str, object], field: str
) -> None:
    response = await api.post_event("EX-P1", **changes)
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "validation_error"
    assert field in [f["field"] for f in body["fields"]]
    assert field in body["message"]
    assert exception_rows(api) == 0
    assert api.store.due_outbox() == []


async def test_missing_field_and_broken_json_are_422(api: Api) -> None:
    body = event_body("EX-P1")
    del body["occurred_at"]
    response = await api.client.post("/v1/exceptions", json=body, headers=auth("operator"))
    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "occurred_at"
    broken = await api.client.post(
        "/v1/exceptions",
        content=b'{"id": "EX-1",',
        headers={**auth("operator"), "Content-Type": "application/json"},
    )
    assert broken.status_code == 422
    assert broken.json()["fields"][0]["field"] == "(document)"
    assert exception_rows(api) == 0


async def test_no_network_loaded_is_422(home: Path) -> None:
    async with open_api(api_settings(home), load_network=False) as empty:
        response = await empty.post_event("EX-P1")
        assert response.status_code == 422
        assert "no network loaded" in response.json()["message"]
        assert exception_rows(empty) == 0


class CrashingCarrier(SimulatedCarrier):
    """A carrier whose adapter blows up (a bug, not a refusal): the run stops."""

    def book(self, request: BookingRequest):  # type: ignore[no-untyped-def]
        raise RuntimeError("carrier adapter crashed")


async def test_a_stopped_resolution_is_503_and_queues_a_failure_notice(home: Path) -> None:
    settings = api_settings(home)
    from tools.store import Store

    store = Store.open(settings.database_url)
    try:
        async with open_api(settings, carrier=CrashingCarrier(store)) as broken:
            response = await broken.post_event("EX-P1")
            assert response.status_code == 503
            body = response.json()
            assert body["error"] == "unavailable"
            assert "EX-P1" in body["message"] and "resumes" in body["message"]
            kinds = [i.kind for i in broken.store.due_outbox()]
            assert "resolution_failed" in kinds
    finally:
        store.close()


async def test_list_filters_by_status_newest_first(api: Api) -> None:
    for name in ("EX-P1", "EX-P4", "EX-P3"):
        await api.post_event(name)
    everything = await api.client.get("/v1/exceptions", headers=auth("viewer"))
    assert everything.status_code == 200
    assert [i["id"] for i in everything.json()["items"]] == ["EX-P3", "EX-P4", "EX-P1"]
    pending = await api.client.get(
        "/v1/exceptions", params={"status": "pending_approval"}, headers=auth("viewer")
    )
    items = pending.json()["items"]
    assert [i["id"] for i in items] == ["EX-P4"]
    assert items[0]["approval_id"] == "AP-EX-P4"
    assert items[0]["summary"]
    paged = await api.client.get(
        "/v1/exceptions", params={"limit": 1, "offset": 1}, headers=auth("viewer")
    )
    assert [i["id"] for i in paged.json()["items"]] == ["EX-P4"]
    bad = await api.client.get("/v1/exceptions", params={"status": "nope"}, headers=auth("viewer"))
    assert bad.status_code == 422 and bad.json()["fields"][0]["field"] == "status"
    too_many = await api.client.get(
        "/v1/exceptions", params={"limit": 5000}, headers=auth("viewer")
    )
    assert too_many.status_code == 422 and too_many.json()["fields"][0]["field"] == "limit"


async def test_detail_has_the_audit_trail(api: Api) -> None:
    await api.post_event("EX-P1")
    response = await api.client.get("/v1/exceptions/EX-P1", headers=auth("viewer"))
    assert response.status_code == 200
    detail = response.json()
    assert detail["decision"]["status"] == "auto_resolved"
    assert detail["event"]["id"] == "EX-P1"
    assert detail["signals"]["nodes"] and detail["signals"]["affected_orders"] == ["O-1001"]
    assert detail["executions"][0]["succeeded"] is True
    assert detail["audit"]["decisions"] and detail["audit"]["actions"]
    assert detail["approvals"] == []
    missing = await api.client.get("/v1/exceptions/EX-NOPE", headers=auth("viewer"))
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"
