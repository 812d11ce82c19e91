"""Slack end to end against a stand-in Web API on 127.0.0.1: the approval request is posted as
Block Kit with buttons, clicks (Slack's real `block_actions` payload, signed) are verified,
non-approvers change nothing, an approver's click resolves and updates the message once."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from api.options import ApiOptions
from api.slack.signature import SignatureRejected, sign, verify
from tests.api.conftest import (
    PINNED_NOW,
    SLACK_APPROVER,
    SLACK_CHANNEL,
    SLACK_SECRET,
    Api,
    api_settings,
    open_api,
    slack_settings,
)
from tests.api.slack_standin import SlackStandIn
from tests.conftest import EXTERNAL

SLACK = EXTERNAL / "slack"


def vector() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SLACK / "vector.json").read_text())
    return data


def click_body(action_id: str, approval_id: str, user: str, channel: str, ts: str) -> bytes:
    """Slack's own block_actions payload (bolt-python tests), with our button's ids."""
    payload = json.loads((SLACK / "block_actions_button_minimal.json").read_text())
    payload["user"]["id"] = user
    payload["container"].update(channel_id=channel, message_ts=ts, is_ephemeral=False)
    payload["channel"]["id"] = channel
    payload["actions"][0].update(
        action_id=action_id, block_id=f"approval:{approval_id}", value=approval_id
    )
    return ("payload=" + quote(json.dumps(payload), safe="/")).encode()


def signed(body: bytes, at: float = PINNED_NOW, secret: str = SLACK_SECRET) -> dict[str, str]:
    ts = str(int(at))
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": sign(secret, ts, body),
        "Content-Type": "application/x-www-form-urlencoded",
    }


async def until(done: Callable[[], bool], deadline: float) -> None:
    """Poll the stand-in (a separate thread) until `done()`, or fail at the deadline."""
    for _ in range(100_000):
        if done() or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.02)
    assert done(), "the dispatcher did not deliver in time"


# -- signatures ------------------------------------------------------------------------------
def test_the_official_signing_vector() -> None:
    v = vector()
    body = v["body"].encode()
    assert sign(v["signing_secret"], v["timestamp"], body) == v["expected_signature"]
    verify(v["signing_secret"], v["headers"], body, now=lambda: float(v["timestamp"]))


@pytest.mark.parametrize(
    ("shift", "valid"), [(-301, False), (-300, True), (0, True), (300, True), (301, False)]
)
def test_timestamp_window_is_five_minutes(shift: int, valid: bool) -> None:
    v = vector()
    now = float(v["timestamp"]) - shift  # the request is `shift` seconds old
    if valid:
        verify(v["signing_secret"], v["headers"], v["body"].encode(), now=lambda: now)
    else:
        with pytest.raises(SignatureRejected, match="5 minutes"):
            verify(v["signing_secret"], v["headers"], v["body"].encode(), now=lambda: now)


@pytest.mark.parametrize(
    "tamper",
    ["body", "signature", "secret", "no-headers", "bad-timestamp"],
)
def test_tampered_requests_are_refused(tamper: str) -> None:
    v = vector()
    headers = dict(v["headers"])
    body = v["body"].encode()
    secret = v["signing_secret"]
    if tamper == "body":
        body += b"&text=approve"
    elif tamper == "signature":
        headers["X-Slack-Signature"] = "v0=" + "0" * 64
    elif tamper == "secret":
        secret = "another-secret"
    elif tamper == "no-headers":
        headers = {}
    else:
        headers["X-Slack-Request-Timestamp"] = "soon"
    with pytest.raises(SignatureRejected):
        verify(secret, headers, body, now=lambda: float(v["timestamp"]))


def test_our_form_encoding_is_slacks() -> None:
    payload = json.loads((SLACK / "block_actions_button_minimal.json").read_text())
    expected = (SLACK / "block_actions_button_minimal.form_body.txt").read_text().strip()
    assert "payload=" + quote(json.dumps(payload), safe="/") == expected


# -- end to end -------------------------------------------------------------------------------
async def test_commands_verified_with_the_official_vector(
    home: Path, standin: SlackStandIn
) -> None:
    v = vector()
    settings = slack_settings(home, standin, slack_signing_secret=v["signing_secret"])
    async with open_api(settings, now=float(v["timestamp"])) as api:
        ok = await api.client.post("/slack/commands", content=v["body"], headers=v["headers"])
        assert ok.status_code == 200
        reply = ok.json()
        assert reply["response_type"] == "ephemeral"
        assert reply["text"].startswith("Commands:")  # empty text: the assistant's help
    async with open_api(settings, now=float(v["timestamp"]) + 301) as late:
        stale = await late.client.post("/slack/commands", content=v["body"], headers=v["headers"])
        assert stale.status_code == 401
        assert stale.json()["error"] == "bad_signature"


async def test_slack_endpoints_without_slack_configured_are_503(api: Api) -> None:
    response = await api.client.post("/slack/interactions", content=b"payload=%7B%7D")
    assert response.status_code == 503


async def posted_approval(api: Api, standin: SlackStandIn) -> tuple[str, str]:
    response = await api.post_event("EX-P4")
    assert response.status_code == 202
    report = await asyncio.to_thread(api.runtime.dispatcher.drain_once)
    assert "approval-requested:AP-EX-P4" in report.sent
    (post,) = standin.named("chat.postMessage")
    return post.body["channel"], standin.named("chat.postMessage")[0].body.get("ts") or ""


async def test_approval_request_is_block_kit_with_buttons(
    home: Path, standin: SlackStandIn
) -> None:
    async with open_api(slack_settings(home, standin)) as api:
        await posted_approval(api, standin)
        (post,) = standin.named("chat.postMessage")
    assert post.authorization == "Bearer xoxb-test-token"
    assert post.body["channel"] == SLACK_CHANNEL
    blocks = post.body["blocks"]
    text = json.dumps(blocks)
    assert blocks[0]["type"] == "header" and "stockout" in blocks[0]["text"]["text"]
    assert "O-1004" in text and "Cost impact" in text and "Promise impact" in text
    assert "promise 6 days later" in text  # the guardrail's reason
    assert "backorder" in text.lower()
    (actions,) = [b for b in blocks if b["type"] == "actions"]
    approve, reject = actions["elements"][:2]
    assert (approve["action_id"], approve["value"], approve["style"]) == (
        "execlayer_approve",
        "AP-EX-P4",
        "primary",
    )
    assert "confirm" in approve
    assert (reject["action_id"], reject["value"], reject["style"]) == (
        "execlayer_reject",
        "AP-EX-P4",
        "danger",
    )


async def test_stale_or_unsigned_clicks_change_nothing(home: Path, standin: SlackStandIn) -> None:
    async with open_api(slack_settings(home, standin)) as api:
        await posted_approval(api, standin)
        body = click_body("execlayer_approve", "AP-EX-P4", SLACK_APPROVER, SLACK_CHANNEL, "1")
        stale = await api.client.post(
            "/slack/interactions", content=body, headers=signed(body, at=PINNED_NOW - 301)
        )
        forged = await api.client.post(
            "/slack/interactions", content=body, headers=signed(body, secret="guess")
        )
        unsigned = await api.client.post("/slack/interactions", content=body)
        assert [stale.status_code, forged.status_code, unsigned.status_code] == [401, 401, 401]
        assert "5 minutes" in stale.json()["message"]
        await api.runtime.drain()
        assert api.store.get_approval("AP-EX-P4").status.value == "pending"  # type: ignore[union-attr]
        garbage = b"payload=not-json"
        bad = await api.client.post("/slack/interactions", content=garbage, headers=signed(garbage))
        assert bad.status_code == 422 and bad.json()["fields"][0]["field"] == "payload"


async def test_a_non_approver_click_changes_nothing_and_is_told_ephemerally(
    home: Path, standin: SlackStandIn
) -> None:
    async with open_api(slack_settings(home, standin)) as api:
        await posted_approval(api, standin)
        ts = standin.named("chat.postMessage")[0].body
        body = click_body("execlayer_approve", "AP-EX-P4", "U0INTRUDER", SLACK_CHANNEL, "x")
        response = await api.client.post("/slack/interactions", content=body, headers=signed(body))
        assert response.status_code == 200
        await api.runtime.drain()
        await asyncio.to_thread(api.runtime.dispatcher.drain_once, flush_digest=True)
        approval = api.store.get_approval("AP-EX-P4")
        assert approval is not None and approval.status.value == "pending"
        assert [a.event for a in api.store.audit_trail("EX-P4").approvals] == [
            "requested",
            "slack_posted",
        ]
        (ephemeral,) = standin.named("chat.postEphemeral")
        assert ephemeral.body["user"] == "U0INTRUDER"
        assert ephemeral.body["channel"] == SLACK_CHANNEL
        assert "nothing was changed" in ephemeral.body["text"]
        assert standin.named("chat.update") == []
        assert ts  # the request message is still the one with buttons


async def test_an_approver_click_resolves_and_updates_the_message_once(
    home: Path, standin: SlackStandIn
) -> None:
    options = ApiOptions(_env_file=None, outbox_poll_s=0.05)  # type: ignore[call-arg]
    async with open_api(slack_settings(home, standin), options=options) as api:
        await api.post_event("EX-P4")
        deadline = time.monotonic() + 20
        await until(lambda: bool(standin.named("chat.postMessage")), deadline)
        assert len(standin.named("chat.postMessage")) == 1
        channel, ts = SLACK_CHANNEL, "1503435956.000001"
        body = click_body("execlayer_approve", "AP-EX-P4", SLACK_APPROVER, channel, ts)
        response = await api.client.post("/slack/interactions", content=body, headers=signed(body))
        assert response.status_code == 200 and response.content == b""
        await until(lambda: bool(standin.named("chat.update")), deadline)
        # a second click, a double-click: already decided, nothing more
        again = await api.client.post("/slack/interactions", content=body, headers=signed(body))
        assert again.status_code == 200
        await api.runtime.drain()
        await asyncio.to_thread(api.runtime.dispatcher.drain_once)
        decision = api.store.get_exception("EX-P4").decision  # type: ignore[union-attr]
        assert decision is not None and decision.status.value == "resolved"
        assert decision.approval is not None
        assert decision.approval.decided_by == f"slack:{SLACK_APPROVER}"
        assert decision.approval.channel == "slack"
    (update,) = standin.named("chat.update")
    assert (update.body["channel"], update.body["ts"]) == (channel, ts)
    blocks = update.body["blocks"]
    assert not [b for b in blocks if b["type"] == "actions"]  # the buttons are gone
    outcome = json.dumps(blocks)
    assert f"Approved by <@{SLACK_APPROVER}>" in outcome and "executed" in outcome
    (told,) = standin.named("chat.postEphemeral")
    assert "already approved" in told.body["text"]
    assert len(standin.named("chat.postMessage")) == 1


async def test_a_reject_click_rejects(home: Path, standin: SlackStandIn) -> None:
    async with open_api(slack_settings(home, standin)) as api:
        await posted_approval(api, standin)
        body = click_body("execlayer_reject", "AP-EX-P4", SLACK_APPROVER, SLACK_CHANNEL, "1")
        assert (
            await api.client.post("/slack/interactions", content=body, headers=signed(body))
        ).status_code == 200
        await api.runtime.drain()
        await asyncio.to_thread(api.runtime.dispatcher.drain_once)
        decision = api.store.get_exception("EX-P4").decision  # type: ignore[union-attr]
        assert decision is not None and decision.status.value == "rejected"
    (update,) = standin.named("chat.update")
    assert "Rejected by" in json.dumps(update.body["blocks"])


async def test_clicks_on_other_buttons_or_unknown_approvals(
    home: Path, standin: SlackStandIn
) -> None:
    async with open_api(slack_settings(home, standin)) as api:
        other = click_body("a", "AP-EX-P4", SLACK_APPROVER, SLACK_CHANNEL, "1")
        assert (
            await api.client.post("/slack/interactions", content=other, headers=signed(other))
        ).status_code == 200
        unknown = click_body("execlayer_approve", "AP-NOPE", SLACK_APPROVER, SLACK_CHANNEL, "1")
        assert (
            await api.client.post("/slack/interactions", content=unknown, headers=signed(unknown))
        ).status_code == 200
        await api.runtime.drain()
    (told,) = standin.named("chat.postEphemeral")
    assert "no approval AP-NOPE" in told.body["text"]


async def test_untrusted_text_cannot_inject_into_slack(home: Path, standin: SlackStandIn) -> None:
    async with open_api(slack_settings(home, standin)) as api:
        await api.post_event("EX-P4", text="<!channel> <https://evil.example|click> & approve now")
        await asyncio.to_thread(api.runtime.dispatcher.drain_once)
    (post,) = standin.named("chat.postMessage")
    text = json.dumps(post.body["blocks"])
    assert "<!channel>" not in text and "<https://evil" not in text
    assert "&lt;!channel&gt;" in text and "&amp; approve now" in text


async def test_no_slack_means_log_only(home: Path) -> None:
    async with open_api(api_settings(home)) as api:
        await api.post_event("EX-P4")
        report = await asyncio.to_thread(api.runtime.dispatcher.drain_once)
        assert "approval-requested:AP-EX-P4" in report.sent
