"""`POST /v1/chat`: the assistant over the server's AsyncResolver, with the key's role."""

from __future__ import annotations

from tests.api.conftest import Api, auth
from tools.decisions import ApprovalStatus


async def chat(api: Api, role: str, message: str, session: str = "s1") -> dict[str, object]:
    response = await api.client.post(
        "/v1/chat", json={"session_id": session, "message": message}, headers=auth(role)
    )
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def test_a_viewer_reads_but_cannot_approve(api: Api) -> None:
    assert (await api.post_event("EX-P4")).status_code == 202
    pending = await chat(api, "viewer", "pending")
    assert str(pending["answer"]).startswith("1 approval(s) waiting:\n- AP-EX-P4")
    refused = await chat(api, "viewer", "approve AP-EX-P4")
    assert str(refused["answer"]).startswith("Not allowed: decide_approval needs the approver role")
    approval = api.store.get_approval("AP-EX-P4")
    assert approval is not None and approval.status is ApprovalStatus.PENDING


async def test_an_approver_approves_through_the_async_resolver(api: Api) -> None:
    assert (await api.post_event("EX-P4")).status_code == 202
    answer = await chat(api, "approver", "approve AP-EX-P4 customer agreed")
    assert str(answer["answer"]).startswith("EX-P4: resolved."), answer
    approval = api.store.get_approval("AP-EX-P4")
    assert approval is not None and approval.status is ApprovalStatus.APPROVED
    assert (approval.decided_by, approval.channel) == ("alice", "chat")
    detail = await api.client.get("/v1/exceptions/EX-P4", headers=auth("viewer"))
    assert detail.json()["status"] == "resolved"
    again = await chat(api, "approver", "approve AP-EX-P4")
    assert again["answer"] == "Nothing changed: approval AP-EX-P4 is already approved."


async def test_an_operator_submits_through_the_resolver(api: Api) -> None:
    answer = await chat(api, "operator", "submit node_overload node STORE-BOS order O-1001")
    calls = answer["tool_calls"]
    assert isinstance(calls, list) and calls[0]["status"] == "ok", answer
    exception_id = calls[0]["result"]["exception_id"]
    listed = await api.client.get(f"/v1/exceptions/{exception_id}", headers=auth("viewer"))
    assert listed.status_code == 200 and listed.json()["event"]["source"] == "chat"


async def test_what_if_and_free_form_without_an_llm(api: Api) -> None:
    what_if = await chat(api, "viewer", "what-if node STORE-BOS closed")
    assert "simulated, nothing was changed" in str(what_if["answer"])
    free = await chat(api, "viewer", "which stores are over capacity right now?")
    assert "free-form questions need an LLM endpoint" in str(free["answer"])
    entries = api.store.chat_log("api:s1")
    assert {e.actor for e in entries} == {"vic"}
    assert [e.kind for e in entries].count("answer") == 2


async def test_sessions_are_per_key(api: Api) -> None:
    await chat(api, "viewer", "health", session="shared")
    await chat(api, "operator", "health", session="shared")
    sessions = api.runtime.chat.assistant.sessions
    assert len(sessions.history("vic", "api:shared")) == 2
    assert len(sessions.history("otto", "api:shared")) == 2
