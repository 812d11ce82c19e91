"""The ops console: sign-in, sessions, CSRF, pages, approving from the console, escaping."""

from __future__ import annotations

import re
from pathlib import Path

from tests.api.conftest import KEYS, Api, api_settings, open_api

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def sign_in(api: Api, role: str = "approver") -> str:
    """Sign in through the form; returns the CSRF token of the session's pages."""
    form = await api.client.get("/login")
    token = CSRF.search(form.text)
    assert token is not None
    response = await api.client.post(
        "/login", data={"key": KEYS[role], "csrf": token.group(1), "next": "/"}
    )
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert KEYS[role] not in cookie
    page = await api.client.get("/")
    found = CSRF.search(page.text)
    assert found is not None
    return found.group(1)


async def test_pages_need_a_session(api: Api) -> None:
    for path in ("/", "/approvals", "/network", "/exceptions/EX-P1"):
        response = await api.client.get(path)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")


async def test_wrong_key_and_missing_csrf_are_refused(api: Api) -> None:
    form = await api.client.get("/login")
    token = CSRF.search(form.text).group(1)  # type: ignore[union-attr]
    wrong = await api.client.post("/login", data={"key": "nope", "csrf": token})
    assert wrong.status_code == 401 and "not valid" in wrong.text
    no_csrf = await api.client.post("/login", data={"key": KEYS["viewer"], "csrf": "forged"})
    assert no_csrf.status_code == 403
    other_site = await api.client.post(
        "/login",
        data={"key": KEYS["viewer"], "csrf": token},
        headers={"Origin": "https://evil.example"},
    )
    assert other_site.status_code == 403
    assert "execlayer_session" not in api.client.cookies


async def test_open_redirects_are_neutralised(api: Api) -> None:
    form = await api.client.get("/login")
    token = CSRF.search(form.text).group(1)  # type: ignore[union-attr]
    response = await api.client.post(
        "/login", data={"key": KEYS["viewer"], "csrf": token, "next": "//evil.example/x"}
    )
    assert response.headers["location"] == "/"


async def test_queue_approvals_network_and_detail_render(api: Api) -> None:
    for name in ("EX-P1", "EX-P4"):
        await api.post_event(name)
    await sign_in(api, "viewer")
    queue = await api.client.get("/")
    assert queue.status_code == 200
    assert "EX-P1" in queue.text and "EX-P4" in queue.text
    assert "Pending approval" in queue.text and "Auto-resolved" in queue.text
    assert "Viewing only" in queue.text  # a viewer sees no buttons
    assert 'value="approve"' not in queue.text
    filtered = await api.client.get("/", params={"status": "auto_resolved"})
    assert "EX-P1" in filtered.text and "/exceptions/EX-P4" not in filtered.text.split("<table")[1]
    detail = await api.client.get("/exceptions/EX-P1")
    assert detail.status_code == 200
    for part in (
        "Rationale",
        "Candidates",
        "Lateness",
        "Guardrail verdicts",
        "Signals at decision time",
        "Audit trail",
        "Actions executed",
    ):
        assert part in detail.text, part
    assert (await api.client.get("/approvals")).status_code == 200
    network = await api.client.get("/network")
    assert "STORE-BOS" in network.text and "Utilisation" in network.text
    missing = await api.client.get("/exceptions/EX-NOPE")
    assert missing.status_code == 404
    assert queue.headers["content-security-policy"].startswith("default-src 'self'")


async def test_approve_from_the_console(api: Api) -> None:
    await api.post_event("EX-P4")
    csrf = await sign_in(api, "approver")
    page = await api.client.get("/exceptions/EX-P4")
    assert 'value="approve"' in page.text
    forged = await api.client.post(
        "/approvals/AP-EX-P4", data={"decision": "approve", "csrf": "forged"}
    )
    assert forged.status_code == 403
    assert api.store.get_approval("AP-EX-P4").status.value == "pending"  # type: ignore[union-attr]
    response = await api.client.post(
        "/approvals/AP-EX-P4",
        data={"decision": "approve", "comment": "ok by me", "csrf": csrf},
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/exceptions/EX-P4?notice=approved"
    after = await api.client.get(response.headers["location"])
    assert "Approved: the plan was re-checked" in after.text
    approval = api.store.get_approval("AP-EX-P4")
    assert approval is not None
    assert (approval.status.value, approval.decided_by, approval.channel) == (
        "approved",
        "alice",
        "console",
    )
    again = await api.client.post("/approvals/AP-EX-P4", data={"decision": "reject", "csrf": csrf})
    assert again.headers["location"] == "/exceptions/EX-P4?notice=already"


async def test_a_viewer_session_cannot_decide(api: Api) -> None:
    await api.post_event("EX-P4")
    csrf = await sign_in(api, "viewer")
    response = await api.client.post(
        "/approvals/AP-EX-P4", data={"decision": "approve", "csrf": csrf}
    )
    assert response.status_code == 403
    assert api.store.get_approval("AP-EX-P4").status.value == "pending"  # type: ignore[union-attr]


async def test_sessions_end_with_sign_out_and_with_the_key(home: Path) -> None:
    settings = api_settings(home)
    async with open_api(settings) as api:
        csrf = await sign_in(api, "viewer")
        cookie = api.client.cookies["execlayer_session"]
        out = await api.client.post("/logout", data={"csrf": csrf})
        assert out.status_code == 303
        assert (await api.client.get("/")).status_code == 303
    fewer_keys = api_settings(home, api_keys="alice=k-approver-0123456789:approver")
    async with open_api(fewer_keys) as api:
        api.client.cookies.set("execlayer_session", cookie)
        assert (await api.client.get("/")).status_code == 303  # vic's key is gone


async def test_partner_text_is_escaped_everywhere(api: Api) -> None:
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    await api.post_event("EX-P4", id="EX-XSS", text=hostile, source="partner<b>")
    await sign_in(api, "approver")
    for path in ("/", "/approvals", "/exceptions/EX-XSS"):
        body = (await api.client.get(path)).text
        assert "<script>alert" not in body and "<img src=x" not in body
        assert "partner<b>" not in body
    detail = (await api.client.get("/exceptions/EX-XSS")).text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in detail


async def test_static_assets_are_served(api: Api) -> None:
    for path in ("/static/console.css", "/static/console.js", "/static/favicon.svg"):
        response = await api.client.get(path)
        assert response.status_code == 200 and response.content
