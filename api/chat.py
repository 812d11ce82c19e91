"""The assistant behind the server's faces (`POST /v1/chat`, Slack, the console).

The assistant is synchronous (`agents.assistant`); the server's resolver is the
`AsyncResolver`, whose coroutines must run on the server's event loop (its checkpointer was
opened there). `ChatService.ask` runs the assistant in a worker thread, and the two actions
it may take are bridged back to the loop with `asyncio.run_coroutine_threadsafe`: submitting
an exception runs `AsyncResolver.resolve`; deciding an approval runs the same compare-and-set
and resumption as `POST /v1/approvals/{id}` (guardrails re-checked), then wakes the outbox
dispatcher so Slack messages are updated at once.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from fastapi import Request

from agents.assistant import Asker, Assistant, AssistantBackend, ChatAnswer, secrets_of
from agents.assistant.models import Channel, RoleName
from agents.state import HumanDecision
from api.keys import Principal
from api.runtime import ApiRuntime, runtime_of
from tools.decisions import Decision
from tools.events import ExceptionEvent

log = logging.getLogger(__name__)

# How long an action bridged to the event loop may take (a resolution is bounded far below).
BRIDGE_TIMEOUT_S = 120.0


@dataclass
class ChatService:
    runtime: ApiRuntime
    loop: asyncio.AbstractEventLoop
    assistant: Assistant
    seen_events: dict[str, None] = field(default_factory=dict)  # Slack event ids answered

    @classmethod
    def build(cls, runtime: ApiRuntime, loop: asyncio.AbstractEventLoop) -> ChatService:
        resolver = runtime.resolver
        advisor = resolver.context.advisor
        client = getattr(advisor, "client", None)  # the LLM the app was opened with, if any

        def resolve(event: ExceptionEvent) -> Decision:
            future = asyncio.run_coroutine_threadsafe(resolver.resolve(event), loop)
            try:
                return future.result(BRIDGE_TIMEOUT_S)
            finally:
                runtime.dispatcher.wake()

        def decide(approval_id: str, human: HumanDecision) -> Decision:
            async def run() -> Decision:
                approval = await resolver.claim_approval(approval_id, human)
                try:
                    return await resolver.resume_approval(approval, human)
                finally:
                    runtime.dispatcher.wake()

            return asyncio.run_coroutine_threadsafe(run(), loop).result(BRIDGE_TIMEOUT_S)

        backend = AssistantBackend(
            store=resolver.store,
            policy=resolver.context.policy,
            resolve=resolve,
            decide_approval=decide,
            memory=resolver.context.memory,
            clock=resolver.context.clock,
        )
        return cls(
            runtime, loop, Assistant(backend, llm=client, secrets=secrets_of(runtime.settings))
        )

    async def ask(self, asker: Asker, session_id: str, message: str) -> ChatAnswer:
        return await asyncio.to_thread(self.assistant.ask, asker, session_id, message)


def chat_service(runtime: ApiRuntime) -> ChatService:
    """The app's chat service, made on first use inside the running event loop."""
    service: ChatService | None = getattr(runtime, "chat", None)
    if service is None:
        service = ChatService.build(runtime, asyncio.get_running_loop())
        runtime.chat = service
    return service


def chat_of(request: Request) -> ChatService:
    return chat_service(runtime_of(request))


def asker_of(principal: Principal, channel: Channel) -> Asker:
    role: RoleName = principal.role.value
    return Asker(name=principal.name, role=role, channel=channel)


def slack_asker(runtime: ApiRuntime, user_id: str) -> Asker:
    """A Slack user: an approver when listed in EXECLAYER_SLACK_APPROVERS, else a viewer."""
    approver = user_id in runtime.settings.slack_approver_ids
    return Asker(
        name=f"slack:{user_id}", role="approver" if approver else "viewer", channel="slack"
    )
