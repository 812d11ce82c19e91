"""Talking to Slack's Web API with `slack_sdk.WebClient` (base URL from
`EXECLAYER_SLACK_API_URL`, so tests point it at a stand-in on 127.0.0.1).

`SlackOpsNotifier` is the `OpsNotifier` that posts to `EXECLAYER_SLACK_CHANNEL`: the
approval request (returning where it was posted), the in-place update once decided, the
escalations, failures and digests. Slack errors become `NotificationError`s: rate limits,
5xx and network failures are retryable, the rest (bad token, unknown channel) are not.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from api.notifiers import ApprovalNotice, AutoResolution, MessageRef, NotificationError
from api.slack import blocks
from tools.events import ExceptionEvent
from tools.settings import Settings

log = logging.getLogger(__name__)

RETRYABLE_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable"}
)
TIMEOUT_S = 10


def web_client(settings: Settings) -> WebClient:
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    base = (
        settings.slack_api_url
        if settings.slack_api_url.endswith("/")
        else (settings.slack_api_url + "/")
    )
    return WebClient(token=token, base_url=base, timeout=TIMEOUT_S)


def slack_failure(exc: Exception) -> NotificationError:
    if isinstance(exc, SlackApiError):
        status = exc.response.status_code
        error = str(exc.response.get("error") or "")
        retryable = status == 429 or status >= 500 or error in RETRYABLE_ERRORS
        return NotificationError(f"Slack answered {status} {error}".strip(), retryable=retryable)
    return NotificationError(f"Slack unreachable: {type(exc).__name__}: {exc}")


class SlackGateway:
    def __init__(self, client: WebClient, channel: str) -> None:
        self.client = client
        self.channel = channel

    def post(self, text: str, message_blocks: list[dict[str, Any]]) -> MessageRef:
        try:
            response = self.client.chat_postMessage(
                channel=self.channel, text=text, blocks=message_blocks, unfurl_links=False
            )
        except (SlackClientError, OSError) as exc:
            raise slack_failure(exc) from exc
        return MessageRef(channel=str(response["channel"]), ts=str(response["ts"]))

    def update(self, ref: MessageRef, text: str, message_blocks: list[dict[str, Any]]) -> None:
        try:
            self.client.chat_update(
                channel=ref.channel, ts=ref.ts, text=text, blocks=message_blocks
            )
        except (SlackClientError, OSError) as exc:
            raise slack_failure(exc) from exc

    def reply(self, channel: str, text: str, thread_ts: str | None = None) -> MessageRef:
        """A plain message in `channel` (in the thread of `thread_ts`): the assistant's answer
        to an app mention."""
        try:
            response = self.client.chat_postMessage(
                channel=channel, text=text, thread_ts=thread_ts, unfurl_links=False
            )
        except (SlackClientError, OSError) as exc:
            raise slack_failure(exc) from exc
        return MessageRef(channel=str(response["channel"]), ts=str(response["ts"]))

    def ephemeral(self, channel: str, user: str, text: str) -> None:
        try:
            self.client.chat_postEphemeral(channel=channel, user=user, text=text)
        except (SlackClientError, OSError) as exc:
            raise slack_failure(exc) from exc


class SlackOpsNotifier:
    name = "slack"
    needs_message_ref = True

    def __init__(self, gateway: SlackGateway, console_url: str | None = None) -> None:
        self.gateway = gateway
        self.console_url = console_url

    def approval_requested(self, notice: ApprovalNotice) -> MessageRef | None:
        return self.gateway.post(
            blocks.approval_text(notice), blocks.approval_request(notice, self.console_url)
        )

    def approval_decided(self, notice: ApprovalNotice, ref: MessageRef | None) -> None:
        outcome = blocks.approval_outcome(notice, self.console_url)
        if ref is None:
            self.gateway.post(blocks.approval_text(notice), outcome)
            return
        self.gateway.update(ref, blocks.approval_text(notice), outcome)

    def escalation(self, exception_id: str, reason: str, event: ExceptionEvent | None) -> None:
        self.gateway.post(
            f"Escalated {exception_id}: {reason}"[:300],
            blocks.escalation(exception_id, reason, event, self.console_url),
        )

    def failure(self, exception_id: str, error: str) -> None:
        self.gateway.post(
            f"Resolution of {exception_id} stopped"[:300], blocks.failure(exception_id, error)
        )

    def digest(self, items: list[AutoResolution], since: datetime) -> None:
        self.gateway.post(f"{len(items)} exception(s) auto-resolved", blocks.digest(items, since))
