"""The outbox dispatcher: Slack down means decisions go on and messages are retried with
backoff; auto-resolutions roll up into a digest; customers get the customer notifier."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from slack_sdk import WebClient

from api.dispatcher import OutboxDispatcher
from api.notifiers import LoggingCustomerNotifier, LoggingOpsNotifier
from api.slack.gateway import SlackGateway, SlackOpsNotifier
from tests.api.conftest import SLACK_CHANNEL, SLACK_TOKEN, open_api, slack_settings
from tests.api.slack_standin import SlackStandIn
from tools.store import OutboxStatus, Store


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC) + timedelta(seconds=1)  # pinned just after the run

    def __call__(self) -> datetime:
        return self.now


def dispatcher_for(
    store: Store, standin: SlackStandIn, clock: Clock, **kw: Any
) -> OutboxDispatcher:
    """A dispatcher on the same database whose store reads the pinned clock."""
    pinned = Store.open(store.engine.url.render_as_string(hide_password=False), clock=clock)
    gateway = SlackGateway(WebClient(token=SLACK_TOKEN, base_url=standin.base_url), SLACK_CHANNEL)
    return OutboxDispatcher(pinned, SlackOpsNotifier(gateway), LoggingCustomerNotifier(), **kw)


async def test_slack_down_decisions_continue_and_messages_are_retried(
    home: Path, standin: SlackStandIn
) -> None:
    standin.fail_status = 503
    async with open_api(slack_settings(home, standin)) as api:
        assert (await api.post_event("EX-P4")).status_code == 202  # Slack down: still decided
        clock = Clock()
        dispatcher = dispatcher_for(api.store, standin, clock, backoff_s=10, max_attempts=3)
        first = await asyncio.to_thread(dispatcher.drain_once)
        assert first.retried == ["approval-requested:AP-EX-P4"]
        item = next(
            i
            for i in api.store.due_outbox(now=clock.now + timedelta(days=1))
            if i.kind == "approval_requested"
        )
        assert item.attempts == 1 and "503" in (item.last_error or "")
        assert item.next_attempt_at == clock.now + timedelta(seconds=10)
        assert (await asyncio.to_thread(dispatcher.drain_once)).retried == []  # not due yet
        clock.now += timedelta(seconds=10)
        second = await asyncio.to_thread(dispatcher.drain_once)
        assert second.retried == ["approval-requested:AP-EX-P4"]  # backoff doubles: 20 s
        again = api.store.get_outbox(item.id)
        assert again is not None and again.next_attempt_at == clock.now + timedelta(seconds=20)
        standin.fail_status = None  # Slack is back
        clock.now += timedelta(seconds=20)
        third = await asyncio.to_thread(dispatcher.drain_once)
        assert third.sent == ["approval-requested:AP-EX-P4"]
        assert len(standin.named("chat.postMessage")) == 3
        sent = api.store.get_outbox(item.id)
        assert sent is not None and sent.status is OutboxStatus.SENT


async def test_gives_up_after_max_attempts_and_on_permanent_errors(
    home: Path, standin: SlackStandIn
) -> None:
    standin.fail_status = 503
    async with open_api(slack_settings(home, standin)) as api:
        await api.post_event("EX-P4")
        clock = Clock()
        dispatcher = dispatcher_for(api.store, standin, clock, backoff_s=1, max_attempts=2)
        await asyncio.to_thread(dispatcher.drain_once)
        clock.now += timedelta(seconds=5)
        report = await asyncio.to_thread(dispatcher.drain_once)
        assert report.failed == ["approval-requested:AP-EX-P4"]
        failed = list(api.store.due_outbox(now=clock.now + timedelta(days=9)))
        assert all(i.kind != "approval_requested" for i in failed)


async def test_digest_rolls_up_auto_resolutions(home: Path, standin: SlackStandIn) -> None:
    async with open_api(slack_settings(home, standin)) as api:
        for name in ("EX-P1", "EX-P3", "EX-P5"):
            assert (await api.post_event(name)).status_code == 200
        clock = Clock()
        dispatcher = dispatcher_for(api.store, standin, clock, digest_every_s=900)
        first = await asyncio.to_thread(dispatcher.drain_once)
        assert first.digested == 0 and standin.named("chat.postMessage") == []
        clock.now += timedelta(minutes=15)
        second = await asyncio.to_thread(dispatcher.drain_once)
        assert second.digested == 3
        (digest,) = standin.named("chat.postMessage")
        text = json.dumps(digest.body["blocks"])
        assert "3 exception(s) auto-resolved" in text
        assert all(x in text for x in ("EX-P1", "EX-P3", "EX-P5"))
        clock.now += timedelta(minutes=15)
        assert (await asyncio.to_thread(dispatcher.drain_once)).digested == 0
        assert len(standin.named("chat.postMessage")) == 1


async def test_customer_notifications_go_to_the_customer_notifier(
    home: Path, standin: SlackStandIn
) -> None:
    customers = LoggingCustomerNotifier()
    async with open_api(slack_settings(home, standin), customer_notifier=customers) as api:
        await api.post_event("EX-P4")
        response = await api.client.post(
            "/v1/approvals/AP-EX-P4",
            json={"decision": "approve"},
            headers={"Authorization": "Bearer k-approver-0123456789"},
        )
        assert response.status_code == 200
        await asyncio.to_thread(api.runtime.dispatcher.drain_once)
    (note,) = customers.delivered
    assert note.order == "O-1004" and note.message
    # approval requested, then updated in place once decided through the API
    assert len(standin.named("chat.postMessage")) == 1
    (update,) = standin.named("chat.update")
    assert "Approved by alice" in json.dumps(update.body["blocks"])


async def test_decided_before_posted_posts_the_outcome_without_buttons(
    home: Path, standin: SlackStandIn
) -> None:
    standin.fail_status = 503
    async with open_api(slack_settings(home, standin)) as api:
        await api.post_event("EX-P4")
        await asyncio.to_thread(api.runtime.dispatcher.drain_once)  # Slack down
        await api.client.post(
            "/v1/approvals/AP-EX-P4",
            json={"decision": "reject"},
            headers={"Authorization": "Bearer k-admin-0123456789"},
        )
        standin.fail_status = None
        clock = Clock()
        clock.now += timedelta(hours=1)
        dispatcher = dispatcher_for(api.store, standin, clock)
        await asyncio.to_thread(dispatcher.drain_once)
        await asyncio.to_thread(dispatcher.drain_once)
    posts = [c for c in standin.named("chat.postMessage") if c.body.get("blocks")]
    assert posts and not [b for b in posts[-1].body["blocks"] if b["type"] == "actions"]
    assert "Rejected by ann" in json.dumps(posts[-1].body["blocks"])


def test_logging_notifier_needs_no_message_ref() -> None:
    assert LoggingOpsNotifier.needs_message_ref is False
