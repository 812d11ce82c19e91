"""What the running server holds (on `app.state.runtime`), built in the lifespan."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from agents.async_resolver import AsyncResolver
from agents.resolver_core import ResolutionError
from agents.state import HumanDecision
from api.console.session import SessionSigner
from api.dispatcher import OutboxDispatcher
from api.keys import KeyRing
from api.options import ApiOptions
from api.slack.gateway import SlackGateway
from tools.decisions import Decision
from tools.settings import Settings
from tools.store import ApprovalRecord

log = logging.getLogger(__name__)


@dataclass
class ApiRuntime:
    settings: Settings
    options: ApiOptions
    keys: KeyRing
    resolver: AsyncResolver
    dispatcher: OutboxDispatcher
    sessions: SessionSigner
    slack: SlackGateway | None
    now: Callable[[], float]  # epoch seconds (Slack signature freshness)
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    chat: Any = None  # api.chat.ChatService, made on first use (see api.chat.chat_service)

    @property
    def slack_secret(self) -> str | None:
        secret = self.settings.slack_signing_secret
        return secret.get_secret_value() if secret is not None else None

    def spawn(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run `work` in the background, kept referenced until done (awaited at shutdown)."""
        task = asyncio.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def resume(self, approval: ApprovalRecord, human: HumanDecision) -> Decision | None:
        """Resume the graph after a won compare-and-set, then deliver the notices now."""
        try:
            return await self.resolver.resume_approval(approval, human)
        except ResolutionError:
            log.error("approval %s decided but its resumption stopped", approval.id)
            return None
        finally:
            self.dispatcher.wake()

    async def drain(self) -> None:
        if self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)


def runtime_of(request: Request) -> ApiRuntime:
    runtime: ApiRuntime = request.app.state.runtime
    return runtime
