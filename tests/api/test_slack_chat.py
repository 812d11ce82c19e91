"""The assistant in Slack: the slash command (signed form body) and app mentions (Events API,
answered in the thread through the Slack stand-in). Slack approvers are approvers, anyone
else a viewer."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlencode

from api.slack.signature import sign
from tests.api.conftest import PINNED_NOW, SLACK_APPROVER, SLACK_SECRET, open_api, slack_settings
from tests.api.slack_standin import SlackStandIn
from tools.decisions import ApprovalStatus

CHANNEL = "C0OPS"


def signed(body: bytes, content_type: str) -> dict[str, str]:
    ts = str(int(PINNED_NOW))
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": sign(SLACK_SECRET, ts, body),
        "Content-Type": content_type,
    }


def command(text: str, user: str) -> tuple[bytes, dict[str, str]]:
    body = urlencode(
        {
            "command": "/execlayer",
            "text": text,
            "user_id": user,
            "channel_id": CHANNEL,
            "team_id": "T1",
        }
    ).encode()
    return body, signed(body, "application/x-www-form-urlencoded")


def event(payload: dict[str, object]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    return body, signed(body, "application/json")


def mention(text: str, user: str, event_id: str = "Ev1") -> dict[str, object]:
    return {
        "type": "event_callback",
        "event_id": event_id,
        "team_id": "T1",
        "event": {
            "type": "app_mention",
            "user": user,
            "text": f"<@U0BOT> {text}",
            "channel": CHANNEL,
            "ts": "1700000000.000100",
        },
    }


async def test_slash_command_roles(home: Path, standin: SlackStandIn) -> None:
    async with open_api(slack_settings(home, standin)) as api:
        assert (await api.post_event("EX-P4")).status_code == 202
        body, headers = command("approve AP-EX-P4", "U0VIEWER")
        refused = await api.client.post("/slack/commands", content=body, headers=headers)
        assert refused.status_code == 200 and refused.json()["response_type"] == "ephemeral"
        assert refused.json()["text"].startswith(
            "Not allowed: decide_approval needs the approver role or above; slack:U0VIEWER"
        )
        body, headers = command("status O-1004", "U0VIEWER")
        status = await api.client.post("/slack/commands", content=body, headers=headers)
        assert status.json()["text"].startswith("Order O-1004")
        body, headers = command("approve AP-EX-P4", SLACK_APPROVER)
        approved = await api.client.post("/slack/commands", content=body, headers=headers)
        assert approved.json()["text"].startswith("EX-P4: resolved."), approved.json()
        approval = api.store.get_approval("AP-EX-P4")
        assert approval is not None and approval.status is ApprovalStatus.APPROVED
        assert approval.decided_by == f"slack:{SLACK_APPROVER}"
        body = b"command=%2Fexeclayer&text=pending&user_id=U1"
        tampered = await api.client.post(
            "/slack/commands",
            content=body,
            headers=signed(b"other", "application/x-www-form-urlencoded"),
        )
        assert tampered.status_code == 401


async def test_url_verification_and_app_mentions(home: Path, standin: SlackStandIn) -> None:
    async with open_api(slack_settings(home, standin)) as api:
        body, headers = event({"type": "url_verification", "challenge": "3eZbrw1aBm2r"})
        challenge = await api.client.post("/slack/events", content=body, headers=headers)
        assert challenge.status_code == 200 and challenge.json() == {"challenge": "3eZbrw1aBm2r"}

        body, headers = event(mention("status O-1001", "U0VIEWER"))
        ack = await api.client.post("/slack/events", content=body, headers=headers)
        assert ack.status_code == 200
        retry = await api.client.post("/slack/events", content=body, headers=headers)
        assert retry.status_code == 200  # Slack's retry of the same event: not answered twice
        await api.runtime.drain()  # the answer task posts before it ends
        (post,) = standin.named("chat.postMessage")
        assert post.body["channel"] == CHANNEL and post.body["thread_ts"] == "1700000000.000100"
        assert post.body["text"].startswith("Order O-1001: allocated, at STORE-BOS")
        entries = api.store.chat_log()
        assert entries[0].actor == "slack:U0VIEWER" and entries[0].role == "viewer"
        assert entries[0].payload == {"text": "status O-1001"}  # the mention stripped

        bad, headers = b"{not json", signed(b"{not json", "application/json")
        assert (
            await api.client.post("/slack/events", content=bad, headers=headers)
        ).status_code == 422
        body, headers = event({"type": "url_verification"})
        assert (
            await api.client.post("/slack/events", content=body, headers=headers)
        ).status_code == 422
        body = json.dumps({"type": "url_verification", "challenge": "x"}).encode()
        unsigned = await api.client.post("/slack/events", content=body)
        assert unsigned.status_code == 401
