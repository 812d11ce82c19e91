"""`POST /slack/interactions` (button clicks), `POST /slack/commands` (slash commands) and
`POST /slack/events` (Events API: app mentions), all answered by the ops assistant except
the clicks.

All three verify Slack's request signature first (401 otherwise; 503 when Slack is not set up).
A click on Approve / Reject by a user in `EXECLAYER_SLACK_APPROVERS` decides the approval
(actor `slack:<user id>`, the same compare-and-set as every other channel) and is acknowledged
at once; the graph resumes in the background and the original message is then updated in
place with the outcome (`chat.update`, via the outbox). A click by anyone else changes
nothing and is answered with an ephemeral message only they see.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any, Literal
from urllib.parse import parse_qs

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agents.resolver_core import ApprovalAlreadyDecided, ApprovalNotFound
from agents.state import HumanDecision
from api.chat import chat_service, slack_asker
from api.errors import ApiError
from api.notifiers import NotificationError
from api.runtime import ApiRuntime, runtime_of
from api.schemas import ErrorBody, FieldProblem
from api.slack.blocks import APPROVE, REJECT
from api.slack.signature import SignatureRejected, verify

log = logging.getLogger(__name__)

router = APIRouter(prefix="/slack", tags=["slack"])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing, stale or wrong Slack signature"},
    422: {"model": ErrorBody, "description": "Not a Slack payload"},
    503: {"model": ErrorBody, "description": "Slack is not configured"},
}


class SlackUser(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str


class SlackChannel(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str


class SlackAction(BaseModel):
    model_config = ConfigDict(extra="allow")
    action_id: str
    value: str | None = None


class SlackContainer(BaseModel):
    model_config = ConfigDict(extra="allow")
    channel_id: str | None = None
    message_ts: str | None = None


class Interaction(BaseModel):
    """The parts of a Slack interaction payload we read (the rest is kept, unread)."""

    model_config = ConfigDict(extra="allow")
    type: str
    user: SlackUser
    channel: SlackChannel | None = None
    container: SlackContainer | None = None
    actions: list[SlackAction] = Field(default_factory=list)

    def channel_id(self) -> str | None:
        if self.channel is not None:
            return self.channel.id
        return self.container.channel_id if self.container is not None else None


class SlackCommandReply(BaseModel):
    response_type: Literal["ephemeral", "in_channel"] = "ephemeral"
    text: str


async def verified_body(request: Request) -> tuple[ApiRuntime, bytes]:
    runtime = runtime_of(request)
    secret = runtime.slack_secret
    if not secret:
        raise ApiError(503, "unavailable", "Slack is not configured on this server")
    body = await request.body()
    try:
        verify(secret, request.headers, body, runtime.now)
    except SignatureRejected as exc:
        raise ApiError(401, "bad_signature", f"Slack signature refused: {exc}") from None
    return runtime, body


def form_field(body: bytes, name: str) -> str:
    try:
        values = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        values = {}
    found = values.get(name)
    if not found:
        raise ApiError(
            422,
            "validation_error",
            f"form field {name!r} missing",
            fields=[FieldProblem(field=name, message="missing")],
        )
    return found[0]


async def tell(runtime: ApiRuntime, interaction: Interaction, text: str) -> None:
    """An ephemeral message to the clicking user (failures are logged, never raised)."""
    channel = interaction.channel_id()
    if runtime.slack is None or channel is None:
        return
    try:
        await asyncio.to_thread(runtime.slack.ephemeral, channel, interaction.user.id, text)
    except NotificationError as exc:
        log.warning("could not answer %s ephemerally: %s", interaction.user.id, exc)


@router.post(
    "/interactions",
    response_class=Response,
    responses={200: {"description": "Acknowledged (empty body, as Slack expects)"}, **ERRORS},
    summary="Slack interactivity request URL (Approve / Reject buttons)",
)
async def interactions(request: Request) -> Response:
    runtime, body = await verified_body(request)
    try:
        interaction = Interaction.model_validate(json.loads(form_field(body, "payload")))
    except (ValueError, ValidationError) as exc:
        raise ApiError(
            422,
            "validation_error",
            "payload is not a Slack interaction",
            fields=[FieldProblem(field="payload", message=str(exc)[:300])],
        ) from None
    action = next((a for a in interaction.actions if a.action_id in (APPROVE, REJECT)), None)
    if interaction.type != "block_actions" or action is None or not action.value:
        return Response(status_code=200)
    user = interaction.user.id
    if user not in runtime.settings.slack_approver_ids:
        runtime.spawn(
            tell(
                runtime,
                interaction,
                "Only designated approvers can decide execlayer approvals: nothing was changed.",
            )
        )
        log.info("slack user %s is not an approver; click on %s ignored", user, action.value)
        return Response(status_code=200)
    human = HumanDecision(
        decision="approve" if action.action_id == APPROVE else "reject",
        actor=f"slack:{user}",
        channel="slack",
        comment="" if action.action_id == APPROVE else "rejected in Slack",
    )
    try:
        approval = await runtime.resolver.claim_approval(action.value, human)
    except ApprovalNotFound:
        runtime.spawn(tell(runtime, interaction, f"There is no approval {action.value}."))
        return Response(status_code=200)
    except ApprovalAlreadyDecided as exc:
        runtime.spawn(
            tell(
                runtime,
                interaction,
                f"Nothing changed: approval {action.value} is already {exc.status}.",
            )
        )
        return Response(status_code=200)
    runtime.spawn(runtime.resume(approval, human))  # Slack wants an answer within 3 s
    return Response(status_code=200)


@router.post(
    "/commands",
    response_model=SlackCommandReply,
    responses=ERRORS,
    summary="Slack slash command request URL (the ops assistant)",
)
async def commands(request: Request) -> SlackCommandReply:
    """`/execlayer status O-1001`, `/execlayer pending`, `/execlayer approve AP-...`: the
    assistant answers the user only (ephemeral). The Slack user is an approver when listed in
    EXECLAYER_SLACK_APPROVERS, otherwise a viewer; the session is per user and channel."""
    runtime, body = await verified_body(request)
    user = form_field(body, "user_id")
    text = optional_field(body, "text")
    session = f"{user}:{optional_field(body, 'channel_id') or 'direct'}"
    answer = await chat_service(runtime).ask(slack_asker(runtime, user), session, text[:4000])
    return SlackCommandReply(text=slack_text(answer.answer))


class SlackEvent(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    user: str | None = None
    text: str = ""
    channel: str | None = None
    ts: str | None = None
    thread_ts: str | None = None
    bot_id: str | None = None


class EventEnvelope(BaseModel):
    """Slack's Events API body: a `url_verification` challenge or an `event_callback`."""

    model_config = ConfigDict(extra="allow")
    type: str
    challenge: str | None = None
    event_id: str | None = None
    event: SlackEvent | None = None


class Challenge(BaseModel):
    challenge: str


MENTION = re.compile(r"<@[A-Z0-9]+(\|[^>]*)?>")
SEEN_EVENTS_MAX = 1000


@router.post(
    "/events",
    response_model=Challenge | None,
    responses=ERRORS,
    summary="Slack Events API request URL (app mentions: the ops assistant)",
)
async def events(request: Request) -> Challenge | Response:
    """Answers Slack's `url_verification` challenge; an `app_mention` is acknowledged at once
    and answered in its thread (`chat.postMessage`) by the assistant, with the mentioning
    user's role. Slack's retries of an event already taken are acknowledged and ignored."""
    runtime, body = await verified_body(request)
    try:
        envelope = EventEnvelope.model_validate(json.loads(body))
    except (ValueError, ValidationError) as exc:
        raise ApiError(
            422,
            "validation_error",
            "not a Slack Events API body",
            fields=[FieldProblem(field="body", message=str(exc)[:300])],
        ) from None
    if envelope.type == "url_verification":
        if not envelope.challenge:
            raise ApiError(
                422,
                "validation_error",
                "url_verification without a challenge",
                fields=[FieldProblem(field="challenge", message="missing")],
            )
        return Challenge(challenge=envelope.challenge)
    event = envelope.event
    if (
        envelope.type != "event_callback"
        or event is None
        or event.type != "app_mention"
        or event.bot_id
        or not event.user
        or not event.channel
        or not first_time(runtime, envelope.event_id or f"{event.channel}:{event.ts}")
    ):
        return Response(status_code=200)
    runtime.spawn(answer_mention(runtime, event))
    return Response(status_code=200)


def first_time(runtime: ApiRuntime, event_id: str) -> bool:
    """True once per event id (Slack re-sends an event it thinks was not acknowledged)."""
    seen = chat_service(runtime).seen_events
    if event_id in seen:
        return False
    seen[event_id] = None
    while len(seen) > SEEN_EVENTS_MAX:
        seen.pop(next(iter(seen)))
    return True


async def answer_mention(runtime: ApiRuntime, event: SlackEvent) -> None:
    assert event.user is not None and event.channel is not None
    text = MENTION.sub("", event.text).strip()[:4000]
    thread = event.thread_ts or event.ts
    try:
        answer = await chat_service(runtime).ask(
            slack_asker(runtime, event.user), f"{event.user}:{event.channel}:{thread}", text
        )
        reply = slack_text(answer.answer)
    except Exception:
        log.exception("the assistant could not answer a Slack mention")
        reply = "Sorry, I could not answer that (the error is logged). Nothing was changed."
    if runtime.slack is None:
        return
    try:
        await asyncio.to_thread(runtime.slack.reply, event.channel, reply, thread)
    except NotificationError as exc:
        log.warning("could not post the assistant's answer to %s: %s", event.channel, exc)


def optional_field(body: bytes, name: str) -> str:
    try:
        values = parse_qs(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        return ""
    found = values.get(name)
    return found[0] if found else ""


def slack_text(answer: str) -> str:
    """Slack mrkdwn: &, < and > escaped (so nothing in an answer can mention or link)."""
    return answer.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
