"""`POST /slack/interactions` (button clicks) and `POST /slack/commands` (slash commands).

Both verify Slack's request signature first (401 otherwise; 503 when Slack is not set up).
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
from typing import Any, Literal
from urllib.parse import parse_qs

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agents.resolver_core import ApprovalAlreadyDecided, ApprovalNotFound
from agents.state import HumanDecision
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
    summary="Slack slash command request URL",
)
async def commands(request: Request) -> SlackCommandReply:
    runtime, body = await verified_body(request)
    command = form_field(body, "command")
    return SlackCommandReply(
        text=(
            f"`{command}`: the execlayer assistant is not available yet. Meanwhile, pending "
            "approvals come to this channel with Approve / Reject buttons, and the ops console "
            + (f"at {runtime.options.public_url} " if runtime.options.public_url else "")
            + "shows the exception queue and every decision."
        )
    )
