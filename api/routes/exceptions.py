"""`POST /v1/exceptions`, `GET /v1/exceptions`, `GET /v1/exceptions/{id}`."""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from agents.resolver_core import ResolutionError
from api.auth import operator, viewer
from api.errors import ERROR_RESPONSES, ApiError, input_error
from api.keys import Principal
from api.runtime import runtime_of
from api.schemas import ErrorBody, ExceptionDetail, ExceptionPage, QueuedException
from api.views import exception_detail, summarize
from tools.decisions import Decision, DecisionStatus
from tools.events import ExceptionEvent
from tools.inputs import InputError
from tools.store import ExceptionStatus, InvalidRequest

router = APIRouter(prefix="/v1/exceptions", tags=["exceptions"])

# Beyond any real queue, and within a 64-bit SQL integer (a larger offset overflowed: 500).
MAX_OFFSET = 1_000_000_000

StatusFilter = Annotated[
    ExceptionStatus | None, Query(description="Only exceptions in this status")
]


@router.post(
    "",
    response_model=Decision,
    responses={
        200: {"model": Decision, "description": "Decided: auto-resolved, escalated, rejected"},
        202: {
            "model": Decision | QueuedException,
            "description": "Waiting for a person (`pending_approval`), or queued (`mode=queue`)",
        },
        **ERROR_RESPONSES,
        503: {"model": ErrorBody, "description": "The resolution stopped; it resumes later"},
    },
    summary="Submit an exception event; get the decision",
)
async def post_exception(
    event: ExceptionEvent,
    request: Request,
    principal: Annotated[Principal, Depends(operator)],
    mode: Annotated[
        Literal["sync", "queue"],
        Query(
            description="`sync` (default): decide now and answer with the decision. `queue`: "
            "accept it (202, status `queued`) for a worker (`execlayer worker`) to decide."
        ),
    ] = "sync",
) -> JSONResponse:
    """Resolve an exception. The event id is the idempotency key: the same id again returns
    the first decision. Unknown order/node/carrier/sku/region ids are refused (422) before
    anything is written. With `mode=queue` it is queued for a worker instead (202, status
    `queued`); once decided, the same id again answers with the decision."""
    runtime = runtime_of(request)
    if mode == "queue":
        return await _enqueue(event, request)
    try:
        decision = await runtime.resolver.resolve(event)
    except InputError as exc:
        raise input_error(exc) from None
    except ResolutionError as exc:
        raise ApiError(503, "unavailable", str(exc)) from None
    finally:
        runtime.dispatcher.wake()
    code = 202 if decision.status is DecisionStatus.PENDING_APPROVAL else 200
    return JSONResponse(decision.model_dump(mode="json"), status_code=code)


async def _enqueue(event: ExceptionEvent, request: Request) -> JSONResponse:
    try:
        record, _ = await runtime_of(request).resolver.enqueue(event)
    except InputError as exc:
        raise input_error(exc) from None
    if record.decision is not None:  # queued before and decided since: the decision
        code = 202 if record.decision.status is DecisionStatus.PENDING_APPROVAL else 200
        return JSONResponse(record.decision.model_dump(mode="json"), status_code=code)
    status = "queued" if record.status == ExceptionStatus.QUEUED else "processing"
    queued = QueuedException(
        exception_id=record.id,
        status=status,
        received_at=record.received_at,
        location=f"/v1/exceptions/{record.id}",
    )
    return JSONResponse(
        queued.model_dump(mode="json"), status_code=202, headers={"Location": queued.location}
    )


@router.get("", response_model=ExceptionPage, responses=ERROR_RESPONSES, summary="List exceptions")
async def list_exceptions(
    request: Request,
    principal: Annotated[Principal, Depends(viewer)],
    status: StatusFilter = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> ExceptionPage:
    """Newest first."""
    store = runtime_of(request).resolver.store
    try:
        records = await asyncio.to_thread(
            store.list_exceptions, status.value if status else None, limit, offset
        )
    except InvalidRequest as exc:
        raise ApiError(422, "validation_error", str(exc)) from None
    return ExceptionPage(
        items=[summarize(r) for r in records],
        status=status.value if status else None,
        limit=limit,
        offset=offset,
    )


@router.get(
    "/{exception_id}",
    response_model=ExceptionDetail,
    responses={**ERROR_RESPONSES, 404: {"model": ErrorBody, "description": "Unknown exception"}},
    summary="A decision and its audit trail",
)
async def get_exception(
    exception_id: str,
    request: Request,
    principal: Annotated[Principal, Depends(viewer)],
) -> ExceptionDetail:
    """The decision plus everything recorded: signals, candidates with their scores,
    verdicts, executed steps, who approved, and reported outcomes."""
    store = runtime_of(request).resolver.store
    detail = await asyncio.to_thread(exception_detail, store, exception_id)
    if detail is None:
        raise ApiError(404, "not_found", f"no exception {exception_id!r}")
    return detail
