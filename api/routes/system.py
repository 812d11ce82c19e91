"""`POST /v1/outcomes`, `POST /v1/chat`, `GET /healthz`, `GET /v1/network/health`."""

from __future__ import annotations

import asyncio
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from agents.resolver_core import OutcomeReport
from api.auth import operator, viewer
from api.chat import asker_of, chat_of
from api.errors import ERROR_RESPONSES, ApiError, input_error
from api.keys import Principal
from api.runtime import ApiRuntime, runtime_of
from api.schemas import (
    ChatReply,
    ChatRequest,
    ComponentHealth,
    HealthReport,
    LlmHealth,
    NetworkHealth,
    SlackHealth,
)
from api.views import network_health
from tools.decisions import OrderOutcome
from tools.inputs import InputError

router = APIRouter(tags=["system"])


def package_version() -> str:
    try:
        return version("execlayer")
    except PackageNotFoundError:
        return "0"


@router.post(
    "/v1/outcomes",
    response_model=OutcomeReport,
    responses=ERROR_RESPONSES,
    tags=["outcomes"],
    summary="Report what really happened to an order",
)
async def post_outcome(
    outcome: OrderOutcome, request: Request, principal: Annotated[Principal, Depends(operator)]
) -> OutcomeReport:
    """Picks, deliveries on time or late, partner acceptance: carrier reliability and node
    inventory accuracy are learnt from them, and the precedent is updated."""
    try:
        return await runtime_of(request).resolver.record_outcome(outcome)
    except InputError as exc:
        raise input_error(exc) from None


@router.post(
    "/v1/chat",
    response_model=ChatReply,
    responses=ERROR_RESPONSES,
    tags=["chat"],
    summary="Ask the ops assistant",
)
async def chat(
    body: ChatRequest, request: Request, principal: Annotated[Principal, Depends(viewer)]
) -> ChatReply:
    """Commands (`status O-1001`, `why O-1001`, `pending`, `health`, `approve AP-...`,
    `what-if carrier PARCELCO region SE`, `help` ...) are answered deterministically; other
    questions need an LLM endpoint. Actions are allowed by the key's role (approver+ to
    approve or reject, operator+ to submit) and go through the resolver and its guardrails.
    Every tool call is in `tool_calls` and in the chat log."""
    asker = asker_of(principal, "api")
    try:
        answer = await chat_of(request).ask(asker, body.session_id, body.message)
    except ValueError as exc:
        raise ApiError(422, "validation_error", str(exc)) from None
    return ChatReply.model_validate(answer.model_dump())


async def database_health(runtime: ApiRuntime) -> ComponentHealth:
    store = runtime.resolver.store

    def probe() -> None:
        with store.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    try:
        await asyncio.to_thread(probe)
    except Exception as exc:
        return ComponentHealth(ok=False, detail=f"{store.backend}: {type(exc).__name__}")
    return ComponentHealth(ok=True, detail=store.backend)


async def checkpointer_health(runtime: ApiRuntime) -> ComponentHealth:
    saver = runtime.resolver.checkpointer
    kind = type(saver).__name__
    try:
        await saver.aget_tuple({"configurable": {"thread_id": "healthz", "checkpoint_ns": ""}})
    except Exception as exc:
        return ComponentHealth(ok=False, detail=f"{kind}: {type(exc).__name__}")
    return ComponentHealth(ok=True, detail=kind)


@router.get(
    "/healthz",
    response_model=HealthReport,
    responses={503: {"model": HealthReport, "description": "Database or checkpointer down"}},
    summary="Liveness and configuration (no auth)",
)
async def healthz(request: Request) -> JSONResponse:
    runtime = runtime_of(request)
    settings = runtime.settings
    database = await database_health(runtime)
    checkpointer = await checkpointer_health(runtime)
    loaded = False
    if database.ok:
        try:
            loaded = await asyncio.to_thread(runtime.resolver.store.has_network)
        except Exception:
            loaded = False
    ok = database.ok and checkpointer.ok
    report = HealthReport(
        status="ok" if ok else "degraded",
        database=database,
        checkpointer=checkpointer,
        network_loaded=loaded,
        llm=LlmHealth(
            configured=settings.llm_configured,
            model=settings.llm_model if settings.llm_configured else None,
        ),
        slack=SlackHealth(
            configured=settings.slack_configured,
            channel=settings.slack_channel if settings.slack_configured else None,
            approvers=len(settings.slack_approver_ids),
        ),
        version=package_version(),
    )
    return JSONResponse(report.model_dump(mode="json"), status_code=200 if ok else 503)


@router.get(
    "/v1/network/health",
    response_model=NetworkHealth,
    responses=ERROR_RESPONSES,
    tags=["network"],
    summary="Node utilisation and disrupted carriers",
)
async def get_network_health(
    request: Request, principal: Annotated[Principal, Depends(viewer)]
) -> NetworkHealth:
    resolver = runtime_of(request).resolver
    return await asyncio.to_thread(network_health, resolver.store, resolver.context.policy)
