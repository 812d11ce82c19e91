"""The resolver for async servers: the same graph and logic as `Resolver`, run with `ainvoke`.

Under FastAPI the graph runs with `graph.ainvoke` on an async checkpointer
(`AsyncSqliteSaver` / `AsyncPostgresSaver`, see `agents.checkpoints.async_checkpointer_for`),
created inside the event loop that uses it (the app's lifespan). The graph's nodes are sync
functions over the sync `Store`; LangGraph runs them in the loop's thread pool. Every other
blocking store call goes through `asyncio.to_thread`. Validation, registration, duplicate
handling, the approval compare-and-set, recovery and outcomes are `ResolverCore`'s, shared
with the sync `Resolver`: a decision made here and one made by `execlayer resolve` are the
same decision, on the same checkpoints.

    async with AsyncResolver.open(settings) as resolver:
        await resolver.recover()
        decision = await resolver.resolve(event)
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.types import Command

from agents.checkpoints import async_checkpointer_for
from agents.context import ResolverContext
from agents.graph import compile_graph
from agents.resolver_core import (
    CLAIM_LEASE,
    DUPLICATE_POLL_S,
    DUPLICATE_WAIT_S,
    OutcomeReport,
    ResolutionError,
    ResolverCore,
    open_context,
)
from agents.state import HumanDecision
from guardrails.policy import Policy
from tools.booking import CarrierAdapter
from tools.decisions import Decision, OrderOutcome
from tools.events import ExceptionEvent
from tools.inputs import InputError
from tools.settings import Settings
from tools.store import ApprovalRecord, ExceptionRecord, Store

if TYPE_CHECKING:  # chromadb: loaded only when memory is used
    from agents.memory import PrecedentMemory

log = logging.getLogger(__name__)


class AsyncResolver:
    """`resolve`, `claim_approval` + `resume_approval` (= `decide_approval`), `recover`,
    `record_outcome`, `decision`: the sync `Resolver`'s entry points, awaitable."""

    def __init__(self, context: ResolverContext, checkpointer: BaseCheckpointSaver[Any]) -> None:
        self.core = ResolverCore(context)
        self.graph = compile_graph(checkpointer)
        self.checkpointer = checkpointer

    @property
    def context(self) -> ResolverContext:
        return self.core.context

    @property
    def store(self) -> Store:
        return self.core.store

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        settings: Settings | None = None,
        *,
        db_url: str | None = None,
        policy: Policy | None = None,
        carrier: CarrierAdapter | None = None,
        use_llm: bool = True,
        use_memory: bool = True,
        memory: PrecedentMemory | None = None,
    ) -> AsyncIterator[AsyncResolver]:
        """Open the store (migrating it), policy, advisor, memory and an async checkpointer;
        all closed on exit. Call inside the event loop that will use the resolver."""
        opening = open_context(
            settings or Settings(),
            db_url=db_url,
            policy=policy,
            carrier=carrier,
            use_llm=use_llm,
            use_memory=use_memory,
            memory=memory,
        )
        context, url = await asyncio.to_thread(opening.__enter__)
        try:
            async with async_checkpointer_for(url) as checkpointer:
                yield cls(context, checkpointer)
        finally:
            await asyncio.to_thread(opening.__exit__, None, None, None)

    # -- exceptions ---------------------------------------------------------------------
    async def resolve(self, event: ExceptionEvent) -> Decision:
        """Decide one exception (see `Resolver.resolve`). Raises `InputError` for unknown ids
        (nothing written) and `ResolutionError` when the run stops."""
        record, created = await asyncio.to_thread(self.core.register, event)
        if not created:
            return await self._existing(event.id, record.decision)
        return await self._ainvoke({"event": event, "started_ns": time.time_ns()}, event.id)

    async def enqueue(self, event: ExceptionEvent) -> tuple[ExceptionRecord, bool]:
        """Queue the exception for a worker (see `ResolverCore.enqueue`)."""
        return await asyncio.to_thread(self.core.enqueue, event)

    async def _existing(self, exception_id: str, decision: Decision | None) -> Decision:
        """See `Resolver._existing`: wait for a live run, take over a dead one."""
        deadline = time.monotonic() + DUPLICATE_WAIT_S
        while decision is None:
            if await asyncio.to_thread(self.core.take_over_if_stale, exception_id):
                return await self._ainvoke(None, exception_id)
            if time.monotonic() >= deadline:
                raise self.core.still_running(exception_id)
            await asyncio.sleep(DUPLICATE_POLL_S)
            decision = await self.decision(exception_id)
        return decision

    async def _ainvoke(self, payload: Any, exception_id: str) -> Decision:
        try:
            result = await self.graph.ainvoke(
                payload,
                self.core.config(exception_id),
                context=self.context,
                durability="sync",
            )
        except InputError:
            raise
        except Exception as exc:
            log.exception("resolution of %s stopped", exception_id)
            raise await asyncio.to_thread(self.core.failed, exception_id, exc) from exc
        return await asyncio.to_thread(self.core.result_decision, result, exception_id)

    async def decision(self, exception_id: str) -> Decision | None:
        return await asyncio.to_thread(self.core.decision, exception_id)

    # -- approvals ----------------------------------------------------------------------
    async def claim_approval(self, approval_id: str, human: HumanDecision) -> ApprovalRecord:
        """The compare-and-set alone (fast): raises `ApprovalNotFound` /
        `ApprovalAlreadyDecided`; the winner then calls `resume_approval`. Should the process
        stop in between, `recover()` resumes it."""
        return await asyncio.to_thread(self.core.claim_approval, approval_id, human)

    async def resume_approval(self, approval: ApprovalRecord, human: HumanDecision) -> Decision:
        decision = await self._ainvoke(
            Command(resume=human.model_dump(mode="json")), approval.exception_id
        )
        await asyncio.to_thread(self.core.announce_decided, approval.id, decision)
        return decision

    async def decide_approval(self, approval_id: str, human: HumanDecision) -> Decision:
        approval = await self.claim_approval(approval_id, human)
        return await self.resume_approval(approval, human)

    async def recover(self, lease: timedelta = CLAIM_LEASE) -> list[Decision]:
        """Finish what a crash or restart interrupted; run at every start-up. Unlike the sync
        `Resolver.recover`, one run that cannot finish is logged (and its failure queued for
        the operators) and the others still go on: a server must start."""
        finished: list[Decision] = []
        for pending in await asyncio.to_thread(self.core.pending_resumptions):
            try:
                decision = await self._ainvoke(
                    Command(resume=pending.human.model_dump(mode="json")), pending.exception_id
                )
            except ResolutionError:
                continue
            await asyncio.to_thread(self.core.announce_decided, pending.approval_id, decision)
            finished.append(decision)
        for exception_id in await asyncio.to_thread(self.core.stalled_runs, lease):
            try:
                finished.append(await self._ainvoke(None, exception_id))
            except ResolutionError:
                continue
        return finished

    # -- outcomes -----------------------------------------------------------------------
    async def record_outcome(self, outcome: OrderOutcome) -> OutcomeReport:
        return await asyncio.to_thread(self.core.record_outcome, outcome)
