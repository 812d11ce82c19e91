"""`GET /v1/approvals`, `GET /v1/approvals/{id}`, `POST /v1/approvals/{id}`."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from agents.resolver_core import ApprovalAlreadyDecided, ApprovalNotFound, ResolutionError
from agents.state import HumanDecision
from api.auth import approver, viewer
from api.errors import ERROR_RESPONSES, ApiError
from api.keys import Principal
from api.runtime import runtime_of
from api.schemas import ApprovalDecisionRequest, ApprovalItem, ApprovalPage, ErrorBody
from api.views import approval_item, approval_items
from tools.decisions import ApprovalStatus, Decision

router = APIRouter(prefix="/v1/approvals", tags=["approvals"])


@router.get("", response_model=ApprovalPage, responses=ERROR_RESPONSES, summary="List approvals")
async def list_approvals(
    request: Request,
    principal: Annotated[Principal, Depends(viewer)],
    status: Annotated[ApprovalStatus | None, Query(description="e.g. pending")] = None,
) -> ApprovalPage:
    """Oldest request first, each with what it would execute and why it needs a person."""
    store = runtime_of(request).resolver.store
    items = await asyncio.to_thread(approval_items, store, status.value if status else None)
    return ApprovalPage(items=items, status=status.value if status else None)


@router.get(
    "/{approval_id}",
    response_model=ApprovalItem,
    responses={**ERROR_RESPONSES, 404: {"model": ErrorBody, "description": "Unknown approval"}},
    summary="One approval",
)
async def get_approval(
    approval_id: str, request: Request, principal: Annotated[Principal, Depends(viewer)]
) -> ApprovalItem:
    store = runtime_of(request).resolver.store
    approval = await asyncio.to_thread(store.get_approval, approval_id)
    if approval is None:
        raise ApiError(404, "not_found", f"no approval {approval_id!r}")
    return await asyncio.to_thread(approval_item, store, approval)


@router.post(
    "/{approval_id}",
    response_model=Decision,
    responses={
        **ERROR_RESPONSES,
        404: {"model": ErrorBody, "description": "Unknown approval"},
        409: {"model": ErrorBody, "description": "Already decided; `decision` is the current one"},
        503: {"model": ErrorBody, "description": "Decided, but the resumption stopped"},
    },
    summary="Approve or reject",
)
async def decide_approval(
    approval_id: str,
    body: ApprovalDecisionRequest,
    request: Request,
    principal: Annotated[Principal, Depends(approver)],
) -> Decision:
    """Exactly one decision per approval wins, whichever channel it comes from (API, Slack,
    console, CLI). The actor recorded is the API key's name. Approving executes the plan
    (re-checked against the current state first); the answer is the resulting decision."""
    runtime = runtime_of(request)
    human = HumanDecision(
        decision=body.decision, actor=principal.name, channel="api", comment=body.comment
    )
    try:
        approval = await runtime.resolver.claim_approval(approval_id, human)
    except ApprovalNotFound:
        raise ApiError(404, "not_found", f"no approval {approval_id!r}") from None
    except ApprovalAlreadyDecided as exc:
        raise ApiError(409, "conflict", str(exc), decision=exc.decision) from None
    try:
        return await runtime.resolver.resume_approval(approval, human)
    except ResolutionError as exc:
        raise ApiError(503, "unavailable", str(exc)) from None
    finally:
        runtime.dispatcher.wake()
