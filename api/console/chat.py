"""The console's chat panel (`/chat`): ask the ops assistant from the browser.

The asker is the signed-in key's owner with its role (channel `console`); the conversation
is per console session (a digest of the session token, never the token). The page shows the
last exchanges from the chat log, every tool call with its result folded under the answer.
Posting needs the session's CSRF token and the same origin, like every console form.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from api.chat import asker_of, chat_service
from api.console.routes import forbidden, page, same_origin, session, to_login

router = APIRouter(include_in_schema=False)

SHOWN_ENTRIES = 90  # message, tool calls and answer: ~25 exchanges


def session_id(token: str) -> str:
    return "console-" + hashlib.sha256(token.encode()).hexdigest()[:16]


def exchanges(entries: list[Any]) -> list[dict[str, Any]]:
    """Chat log lines grouped as {question, calls, answer}, oldest first."""
    grouped: list[dict[str, Any]] = []
    for entry in entries:
        if entry.kind == "message":
            grouped.append({"question": entry.payload.get("text", ""), "calls": [], "answer": None})
        elif grouped and entry.kind == "tool_call":
            grouped[-1]["calls"].append(entry.payload)
        elif grouped and entry.kind == "answer":
            grouped[-1]["answer"] = entry.payload
    return grouped


@router.get("/chat")
async def chat_page(request: Request) -> Response:
    current = session(request)
    if current is None:
        return to_login(request)
    runtime, principal, token = current
    key = f"console:{session_id(token)}"
    entries = await asyncio.to_thread(
        runtime.resolver.store.chat_log, key, principal.name, SHOWN_ENTRIES
    )
    return page(
        request,
        "chat.html",
        current,
        exchanges=exchanges(entries),
        llm=runtime.settings.llm_configured,
    )


@router.post("/chat")
async def chat_post(
    request: Request,
    message: Annotated[str, Form(max_length=4000)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    current = session(request)
    if current is None:
        return to_login(request)
    runtime, principal, token = current
    if not same_origin(request) or not runtime.sessions.check_csrf(token, csrf):
        return forbidden(request, current, "The form expired. Reload the page and try again.")
    if message.strip():
        await chat_service(runtime).ask(asker_of(principal, "console"), session_id(token), message)
    return RedirectResponse("/chat#latest", status_code=303)
