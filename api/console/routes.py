"""The ops console pages: queue, approvals, decision detail, network health, sign-in.

Authentication: sign in once with an API key (`/login`); the console keeps a signed,
HttpOnly, SameSite=Strict session cookie naming the key's owner and role (see
`api.console.session`). Decisions taken here are recorded with actor = the key's name and
channel `console`. Every POST needs the session's CSRF token and, when the browser sends an
Origin header, the same origin. Templates autoescape everything.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape

from agents.resolver_core import ApprovalAlreadyDecided, ApprovalNotFound, ResolutionError
from agents.state import HumanDecision
from api.console import format as fmt
from api.console.session import COOKIE, LOGIN_COOKIE
from api.keys import Principal, Role
from api.runtime import ApiRuntime, runtime_of
from api.views import (
    approval_items,
    exception_detail,
    network_health,
    status_counts,
    summarize,
    timeline,
)
from tools.store import ExceptionStatus

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"

environment = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
fmt.install(environment)
templates = Jinja2Templates(env=environment)

router = APIRouter(include_in_schema=False)

NOTICES = {
    "approved": ("ok", "Approved: the plan was re-checked against the current state and executed."),
    "rejected": ("info", "Rejected: nothing was executed."),
    "already": ("warn", "Someone decided this approval first; nothing changed."),
    "stopped": ("error", "Decided, but the resumption stopped; it finishes on the next start."),
    "signed_out": ("info", "Signed out."),
}
QUEUE_FILTERS = [
    ("all", "All"),
    ("pending_approval", "Pending approval"),
    ("auto_resolved", "Auto-resolved"),
    ("resolved", "Resolved"),
    ("escalated", "Escalated"),
    ("rejected", "Rejected"),
    ("failed", "Failed"),
    ("processing", "Processing"),
]


def session(request: Request) -> tuple[ApiRuntime, Principal, str] | None:
    runtime = runtime_of(request)
    token = request.cookies.get(COOKIE)
    principal = runtime.sessions.read(token, runtime.keys)
    if principal is None or token is None:
        return None
    return runtime, principal, token


def to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target)}", status_code=303)


def safe_next(value: str | None) -> str:
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", request.url.netloc)


def page(
    request: Request,
    name: str,
    current: tuple[ApiRuntime, Principal, str] | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    notice = NOTICES.get(request.query_params.get("notice", ""))
    data: dict[str, Any] = {"notice": notice, "nav": name.removesuffix(".html"), **context}
    if current is not None:
        runtime, principal, token = current
        data.update(
            principal=principal,
            csrf=runtime.sessions.csrf(token),
            can_approve=principal.can(Role.APPROVER),
            slack=runtime.settings.slack_configured,
        )
    response = templates.TemplateResponse(request, name, data, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'"
    )
    return response


def forbidden(
    request: Request, current: tuple[ApiRuntime, Principal, str] | None, why: str
) -> Response:
    return page(request, "error.html", current, status_code=403, title="Not allowed", message=why)


# -- sign in / out -------------------------------------------------------------------------
@router.get("/login")
async def login_form(request: Request, next: str = "/") -> Response:
    runtime = runtime_of(request)
    nonce = runtime.sessions.login_nonce()
    response = page(
        request,
        "login.html",
        None,
        next=safe_next(next),
        login_csrf=runtime.sessions.login_csrf(nonce),
        error=None,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        httponly=True,
        samesite="strict",
        max_age=1800,
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/login")
async def login(
    request: Request,
    key: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    runtime = runtime_of(request)
    if not same_origin(request) or not runtime.sessions.check_login(
        request.cookies.get(LOGIN_COOKIE), csrf
    ):
        return page(
            request,
            "error.html",
            None,
            status_code=403,
            title="Sign-in refused",
            message="The sign-in form expired or came from another site. Try again.",
        )
    principal = runtime.keys.match(key.strip())
    if principal is None:
        nonce = runtime.sessions.login_nonce()
        refused = page(
            request,
            "login.html",
            None,
            status_code=401,
            next=safe_next(next),
            login_csrf=runtime.sessions.login_csrf(nonce),
            error="That key is not valid.",
        )
        refused.set_cookie(
            LOGIN_COOKIE,
            nonce,
            httponly=True,
            samesite="strict",
            max_age=1800,
            secure=request.url.scheme == "https",
        )
        return refused
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        COOKIE,
        runtime.sessions.issue(principal),
        httponly=True,
        samesite="strict",
        max_age=int(runtime.sessions.ttl_s),
        secure=request.url.scheme == "https",
    )
    response.delete_cookie(LOGIN_COOKIE)
    return response


@router.post("/logout")
async def logout(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    current = session(request)
    if current is not None and not (
        same_origin(request) and current[0].sessions.check_csrf(current[2], csrf)
    ):
        return forbidden(request, current, "The form expired. Reload the page and try again.")
    response = RedirectResponse("/login?notice=signed_out", status_code=303)
    response.delete_cookie(COOKIE)
    return response


# -- pages ---------------------------------------------------------------------------------
@router.get("/")
async def queue(request: Request, status: str = "all") -> Response:
    current = session(request)
    if current is None:
        return to_login(request)
    store = current[0].resolver.store
    wanted = status if status in {s.value for s in ExceptionStatus} else None

    def read() -> tuple[Any, Any, Any]:
        records = store.list_exceptions(status=wanted, limit=200)
        return (
            [summarize(r) for r in records],
            approval_items(store, "pending"),
            status_counts(store),
        )

    items, pending, counts = await asyncio.to_thread(read)
    return page(
        request,
        "queue.html",
        current,
        items=items,
        pending=pending,
        counts=counts,
        filters=QUEUE_FILTERS,
        active=wanted or "all",
    )


@router.get("/approvals")
async def approvals_page(request: Request) -> Response:
    current = session(request)
    if current is None:
        return to_login(request)
    store = current[0].resolver.store

    def read() -> tuple[Any, Any]:
        everything = approval_items(store, None)
        pending = [i for i in everything if i.approval.status.value == "pending"]
        decided = [i for i in everything if i.approval.status.value != "pending"]
        decided.sort(
            key=lambda i: (i.approval.decided_at is None, i.approval.decided_at), reverse=True
        )
        return pending, decided[:50]

    pending, decided = await asyncio.to_thread(read)
    return page(request, "approvals.html", current, pending=pending, decided=decided)


@router.get("/exceptions/{exception_id}")
async def exception_page(request: Request, exception_id: str) -> Response:
    current = session(request)
    if current is None:
        return to_login(request)
    store = current[0].resolver.store
    detail = await asyncio.to_thread(exception_detail, store, exception_id)
    if detail is None:
        return page(
            request,
            "error.html",
            current,
            status_code=404,
            title="Not found",
            message=f"There is no exception {exception_id}.",
        )
    pending = next((a for a in detail.approvals if a.status.value == "pending"), None)
    return page(
        request,
        "exception.html",
        current,
        d=detail,
        pending=pending,
        events=timeline(detail),
    )


@router.post("/approvals/{approval_id}")
async def decide(
    request: Request,
    approval_id: str,
    decision: Annotated[str, Form()] = "",
    comment: Annotated[str, Form(max_length=2000)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    current = session(request)
    if current is None:
        return to_login(request)
    runtime, principal, token = current
    if not same_origin(request) or not runtime.sessions.check_csrf(token, csrf):
        return forbidden(request, current, "The form expired. Reload the page and try again.")
    if not principal.can(Role.APPROVER):
        return forbidden(
            request,
            current,
            f"The {principal.role.value} role cannot decide "
            "approvals; an approver or admin key can.",
        )
    if decision not in ("approve", "reject"):
        return page(
            request,
            "error.html",
            current,
            status_code=422,
            title="Invalid decision",
            message="decision: must be approve or reject",
        )
    human = HumanDecision(
        decision="approve" if decision == "approve" else "reject",
        actor=principal.name,
        channel="console",
        comment=comment.strip(),
    )
    try:
        approval = await runtime.resolver.claim_approval(approval_id, human)
    except ApprovalNotFound:
        return page(
            request,
            "error.html",
            current,
            status_code=404,
            title="Not found",
            message=f"There is no approval {approval_id}.",
        )
    except ApprovalAlreadyDecided:
        found = await asyncio.to_thread(runtime.resolver.store.get_approval, approval_id)
        target = f"/exceptions/{quote(found.exception_id)}" if found else "/approvals"
        return RedirectResponse(f"{target}?notice=already", status_code=303)
    notice = "approved" if decision == "approve" else "rejected"
    try:
        await runtime.resolver.resume_approval(approval, human)
    except ResolutionError:
        notice = "stopped"
    finally:
        runtime.dispatcher.wake()
    return RedirectResponse(
        f"/exceptions/{quote(approval.exception_id)}?notice={notice}", status_code=303
    )


@router.get("/network")
async def network_page(request: Request) -> Response:
    current = session(request)
    if current is None:
        return to_login(request)
    resolver = current[0].resolver
    health = await asyncio.to_thread(network_health, resolver.store, resolver.context.policy)
    return page(request, "network.html", current, h=health)
