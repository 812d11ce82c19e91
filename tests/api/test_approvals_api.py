"""`/v1/approvals`: list, approve/reject by role, actor = key name, 409 with the current
decision, 404, bad bodies."""

from __future__ import annotations

from tests.api.conftest import Api, auth


async def test_list_pending_shows_what_would_run_and_why(api: Api) -> None:
    await api.post_event("EX-P1")
    await api.post_event("EX-P4")
    response = await api.client.get(
        "/v1/approvals", params={"status": "pending"}, headers=auth("viewer")
    )
    assert response.status_code == 200
    items = response.json()["items"]
    assert [i["approval"]["id"] for i in items] == ["AP-EX-P4"]
    item = items[0]
    assert item["approval"]["exception_id"] == "EX-P4"
    assert item["exception_type"] == "stockout"
    assert item["orders"] == ["O-1004"]
    assert item["summary"] and item["rationale"]
    assert any("promise" in r for r in item["approval"]["reasons"])
    one = await api.client.get("/v1/approvals/AP-EX-P4", headers=auth("viewer"))
    assert one.json() == item
    none = await api.client.get(
        "/v1/approvals", params={"status": "approved"}, headers=auth("viewer")
    )
    assert none.json()["items"] == []
    bad = await api.client.get("/v1/approvals", params={"status": "maybe"}, headers=auth("viewer"))
    assert bad.status_code == 422 and bad.json()["fields"][0]["field"] == "status"


async def test_approve_executes_and_records_the_key_name(api: Api) -> None:
    await api.post_event("EX-P4")
    response = await api.client.post(
        "/v1/approvals/AP-EX-P4",
        json={"decision": "approve", "comment": "customer agreed by phone"},
        headers=auth("approver"),
    )
    assert response.status_code == 200
    decision = response.json()
    assert decision["status"] == "resolved"
    assert decision["decided_by"] == "human"
    assert decision["approval"]["decided_by"] == "alice"
    assert decision["approval"]["channel"] == "api"
    assert decision["approval"]["comment"] == "customer agreed by phone"
    order = api.store.get_order("O-1004")
    assert order is not None and order.status.value == "backordered"
    trail = api.store.audit_trail("EX-P4")
    assert [(a.event, a.actor) for a in trail.approvals] == [
        ("requested", "execlayer"),
        ("approved", "alice"),
    ]
    assert any(i.kind == "approval_decided" for i in api.store.due_outbox())


async def test_reject_executes_nothing(api: Api) -> None:
    await api.post_event("EX-P4")
    before = api.store.get_order("O-1004")
    response = await api.client.post(
        "/v1/approvals/AP-EX-P4", json={"decision": "reject"}, headers=auth("admin")
    )
    assert response.status_code == 200
    assert response.json()["status"] == "rejected"
    assert response.json()["actions"] == []
    assert response.json()["approval"]["decided_by"] == "ann"
    assert api.store.get_order("O-1004") == before
    assert not [a for a in api.store.audit_trail("EX-P4").actions if a.status == "applied"]


async def test_second_decision_is_409_with_the_current_decision(api: Api) -> None:
    await api.post_event("EX-P4")
    first = await api.client.post(
        "/v1/approvals/AP-EX-P4", json={"decision": "approve"}, headers=auth("approver")
    )
    again = await api.client.post(
        "/v1/approvals/AP-EX-P4", json={"decision": "reject"}, headers=auth("admin")
    )
    assert again.status_code == 409
    body = again.json()
    assert body["error"] == "conflict" and "approved" in body["message"]
    assert body["decision"] == first.json()
    approval = api.store.get_approval("AP-EX-P4")
    assert approval is not None and approval.decided_by == "alice"


async def test_unknown_approval_is_404_and_bad_bodies_422(api: Api) -> None:
    missing = await api.client.post(
        "/v1/approvals/AP-NOPE", json={"decision": "approve"}, headers=auth("approver")
    )
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert (
        await api.client.get("/v1/approvals/AP-NOPE", headers=auth("viewer"))
    ).status_code == 404
    await api.post_event("EX-P4")
    for body, field in (
        ({"decision": "maybe"}, "decision"),
        ({}, "decision"),
        ({"decision": "approve", "comment": "x" * 2001}, "comment"),
        ({"decision": "approve", "actor": "someone-else"}, "actor"),
    ):
        response = await api.client.post(
            "/v1/approvals/AP-EX-P4", json=body, headers=auth("approver")
        )
        assert response.status_code == 422, body
        assert response.json()["fields"][0]["field"] == field
    approval = api.store.get_approval("AP-EX-P4")
    assert approval is not None and approval.status.value == "pending"
