"""`POST /v1/chat` with the server's LLM: the advisor's client drives the tool-calling loop
in a worker thread, and an approval the model asks for runs on the server's event loop."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from api.app import create_app
from api.options import ApiOptions
from api.runtime import ApiRuntime
from tests.agents.assistant.llm_script import Script, say, scripted, tool_calls
from tests.agents.graph.fakes import MODEL
from tests.agents.llm_fakes import API_KEY, BASE_URL
from tests.api.conftest import PINNED_NOW, api_settings, auth, event_body
from tests.conftest import CONTRACT_EXAMPLES
from tools.decisions import ApprovalStatus
from tools.inputs import load_snapshot


class ChatOnly(Script):
    """The scripted assistant; the resolver's own advisor calls get a 400 (it then decides
    deterministically, as with no LLM)."""

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if "tools" not in json.loads(request.content):
            return httpx.Response(400, json={"error": {"message": "not in this test"}})
        return super().__call__(request)


async def test_an_llm_conversation_approves_through_the_server(home: Path) -> None:
    settings = api_settings(
        home,
        llm_base_url=BASE_URL,
        llm_api_key=API_KEY,
        llm_model=MODEL,
        llm_timeout_s=5.0,
        llm_request_timeout_s=2.0,
    )
    app = create_app(
        settings,
        use_llm=True,
        use_memory=False,
        options=ApiOptions(_env_file=None, dispatch_outbox=False),
        now=lambda: PINNED_NOW,
    )
    script = ChatOnly(
        tool_calls(("pending_approvals", {})),
        tool_calls(("decide_approval", {"approval_id": "AP-EX-P4", "decision": "approve"})),
        say("Approved AP-EX-P4."),
    )
    async with app.router.lifespan_context(app):
        runtime: ApiRuntime = app.state.runtime
        runtime.resolver.store.load_snapshot(
            load_snapshot(CONTRACT_EXAMPLES / "network-northeast.json")
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            with scripted(script):
                posted = await client.post(
                    "/v1/exceptions", json=event_body("EX-P4"), headers=auth("operator")
                )
                assert posted.status_code == 202, posted.text
                response = await client.post(
                    "/v1/chat",
                    json={"session_id": "s1", "message": "approve the gloves backorder"},
                    headers=auth("approver"),
                )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["mode"] == "llm" and body["answer"] == "Approved AP-EX-P4."
        assert [c["status"] for c in body["tool_calls"]] == ["ok", "ok"]
        approval = runtime.resolver.store.get_approval("AP-EX-P4")
        assert approval is not None and approval.status is ApprovalStatus.APPROVED
        assert (approval.decided_by, approval.channel) == ("alice", "chat")
        assert len(script.requests) == 3
        assert "decide_approval" in script.offered()
