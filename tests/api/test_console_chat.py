"""The console's chat panel: CSRF-checked posts, the session's role, escaped transcripts."""

from __future__ import annotations

from tests.api.conftest import Api
from tests.api.test_console import sign_in
from tools.decisions import ApprovalStatus


async def test_chat_panel_asks_and_shows_the_transcript(api: Api) -> None:
    await api.post_event("EX-P4")
    assert (await api.client.get("/chat")).status_code == 303  # signed out: to the login
    csrf = await sign_in(api, "approver")
    empty = await api.client.get("/chat")
    assert empty.status_code == 200 and "No question yet" in empty.text
    assert 'href="/chat" class="active"' in empty.text
    asked = await api.client.post("/chat", data={"message": "pending", "csrf": csrf})
    assert asked.status_code == 303 and asked.headers["location"] == "/chat#latest"
    shown = await api.client.get("/chat")
    assert "1 approval(s) waiting:" in shown.text and "AP-EX-P4" in shown.text
    assert "pending_approvals (ok)" in shown.text  # the tool call, folded
    await api.client.post(
        "/chat", data={"message": "approve AP-EX-P4 from the panel", "csrf": csrf}
    )
    approval = api.store.get_approval("AP-EX-P4")
    assert approval is not None and approval.status is ApprovalStatus.APPROVED
    assert (approval.decided_by, approval.channel, approval.comment) == (
        "alice",
        "chat",
        "from the panel",
    )
    assert {e.channel for e in api.store.chat_log()} == {"console"}


async def test_chat_panel_refuses_forged_posts_and_viewer_actions(api: Api) -> None:
    await api.post_event("EX-P4")
    csrf = await sign_in(api, "viewer")
    forged = await api.client.post("/chat", data={"message": "pending", "csrf": "forged"})
    assert forged.status_code == 403 and api.store.chat_log() == []
    await api.client.post("/chat", data={"message": "approve AP-EX-P4", "csrf": csrf})
    page = await api.client.get("/chat")
    assert "Not allowed: decide_approval needs the approver role" in page.text
    assert "you can read and simulate, not approve" in page.text
    approval = api.store.get_approval("AP-EX-P4")
    assert approval is not None and approval.status is ApprovalStatus.PENDING


async def test_chat_transcript_is_escaped(api: Api) -> None:
    csrf = await sign_in(api, "viewer")
    await api.client.post("/chat", data={"message": "<script>alert(1)</script>", "csrf": csrf})
    page = await api.client.get("/chat")
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
