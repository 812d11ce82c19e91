"""The resolver: one entry point for exceptions, approvals and outcomes, over the graph.

- `resolve(event)`: validates the event's references (unknown ids are bad input: nothing is
  written), registers it (the id is the idempotency key: a duplicate returns the first
  decision and never acts twice), then runs the graph on thread id = exception id.
- `decide_approval(approval_id, human)`: exactly one decision per approval wins (compare and
  set in the store), is bound to the person in the audit log, and resumes the graph with
  `Command(resume=...)`, from whichever process receives it.
- `recover()`: after a crash or restart, finishes what was interrupted: approvals decided but
  not yet resumed, and runs stopped mid-way (their steps are idempotent by key).
- `record_outcome(outcome)`: what really happened updates carrier reliability and node
  accuracy, and the precedent.

Everything but running the graph lives in `agents.resolver_core.ResolverCore`, shared with
the `AsyncResolver` the HTTP API uses.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.types import Command

from agents.checkpoints import checkpointer_for
from agents.context import ResolverContext
from agents.graph import compile_graph
from agents.resolver_core import (
    CLAIM_LEASE,
    DUPLICATE_POLL_S,
    DUPLICATE_WAIT_S,
    ApprovalAlreadyDecided,
    ApprovalNotFound,
    OutcomeReport,
    ResolutionError,
    ResolverCore,
    open_context,
    open_memory,
)
from agents.state import HumanDecision
from guardrails.policy import Policy
from tools.booking import CarrierAdapter
from tools.decisions import Decision
from tools.events import ExceptionEvent
from tools.inputs import InputError
from tools.settings import Settings
from tools.store import ExceptionRecord

if TYPE_CHECKING:
    from agents.memory import PrecedentMemory

log = logging.getLogger(__name__)

__all__ = [
    "DUPLICATE_WAIT_S",
    "ApprovalAlreadyDecided",
    "ApprovalNotFound",
    "OutcomeReport",
    "ResolutionError",
    "Resolver",
    "open_memory",
]


class Resolver(ResolverCore):
    def __init__(self, context: ResolverContext, checkpointer: BaseCheckpointSaver[Any]) -> None:
        super().__init__(context)
        self.graph = compile_graph(checkpointer)

    @classmethod
    @contextmanager
    def open(
        cls,
        settings: Settings | None = None,
        *,
        db_url: str | None = None,
        policy: Policy | None = None,
        carrier: CarrierAdapter | None = None,
        use_llm: bool = True,
        use_memory: bool = True,
        memory: PrecedentMemory | None = None,
    ) -> Iterator[Resolver]:
        with (
            open_context(
                settings or Settings(),
                db_url=db_url,
                policy=policy,
                carrier=carrier,
                use_llm=use_llm,
                use_memory=use_memory,
                memory=memory,
            ) as (context, url),
            checkpointer_for(url) as checkpointer,
        ):
            yield cls(context, checkpointer)

    # -- exceptions ---------------------------------------------------------------------
    def resolve(self, event: ExceptionEvent) -> Decision:
        record, created = self.register(event)
        if not created:
            return self._existing(event.id, record.decision)
        return self._invoke({"event": event, "started_ns": time.time_ns()}, event.id)

    def resolve_claimed(self, record: ExceptionRecord) -> Decision:
        """Decide an exception this resolver claimed from the queue (`claim_next`): a fresh
        run, or the rest of a run a dead claimant left at its last checkpoint."""
        if self.graph.get_state(self.config(record.id)).next:
            return self._invoke(None, record.id)
        return self._invoke({"event": record.event, "started_ns": time.time_ns()}, record.id)

    def _existing(self, exception_id: str, decision: Decision | None) -> Decision:
        """A duplicate: the first decision. If it is still being made, wait for it; if its
        resolver died (its claim is stale), take over and finish it from its checkpoint."""
        deadline = time.monotonic() + DUPLICATE_WAIT_S
        while decision is None:
            if self.take_over_if_stale(exception_id):
                return self._invoke(None, exception_id)
            if time.monotonic() >= deadline:
                raise self.still_running(exception_id)
            time.sleep(DUPLICATE_POLL_S)
            decision = self.decision(exception_id)
        return decision

    def _invoke(self, payload: Any, exception_id: str) -> Decision:
        try:
            result = self.graph.invoke(
                payload,
                self.config(exception_id),
                context=self.context,
                durability="sync",
            )
        except InputError:
            raise
        except Exception as exc:
            log.exception("resolution of %s stopped", exception_id)
            raise self.failed(exception_id, exc) from exc
        return self.result_decision(result, exception_id)

    # -- approvals ----------------------------------------------------------------------
    def decide_approval(self, approval_id: str, human: HumanDecision) -> Decision:
        approval = self.claim_approval(approval_id, human)
        decision = self._resume(approval.exception_id, human)
        self.announce_decided(approval_id, decision)
        return decision

    def _resume(self, exception_id: str, human: HumanDecision) -> Decision:
        return self._invoke(Command(resume=human.model_dump(mode="json")), exception_id)

    def recover(self, lease: timedelta = CLAIM_LEASE) -> list[Decision]:
        """Finish work a crash interrupted; safe to call at every start-up and from several
        processes: approvals decided but not resumed, and runs whose claim went stale (each
        taken over by exactly one resolver)."""
        finished: list[Decision] = []
        for pending in self.pending_resumptions():
            decision = self._resume(pending.exception_id, pending.human)
            self.announce_decided(pending.approval_id, decision)
            finished.append(decision)
        for exception_id in self.stalled_runs(lease):
            finished.append(self._invoke(None, exception_id))
        return finished
