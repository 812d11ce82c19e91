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
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.types import Command
from pydantic import BaseModel, ConfigDict

from agents.checkpoints import checkpointer_for
from agents.context import ResolverContext
from agents.graph import compile_graph
from agents.precedents import MemoryUnavailable, PrecedentOutcome
from agents.state import HumanDecision
from guardrails.policy import Policy, default_policy, load_policy
from tools.booking import CarrierAdapter, SimulatedCarrier
from tools.decisions import (
    ApprovalStatus,
    Decision,
    DecisionStatus,
    OrderOutcome,
)
from tools.events import ExceptionEvent
from tools.inputs import InputError
from tools.settings import Settings
from tools.store import Store

if TYPE_CHECKING:
    from agents.memory import PrecedentMemory

log = logging.getLogger(__name__)

# A duplicate of an exception still being resolved waits this long for the first answer.
DUPLICATE_WAIT_S = 15.0
# A run that has held its claim this long without deciding is presumed dead (decisions take
# milliseconds; a batch optimisation and an LLM call are bounded well below this).
CLAIM_LEASE = timedelta(seconds=60)


class ResolutionError(RuntimeError):
    """The resolver could not finish (e.g. the database went away); nothing half-written."""


class ApprovalNotFound(LookupError):
    pass


class ApprovalAlreadyDecided(RuntimeError):
    def __init__(self, approval_id: str, status: str, decision: Decision | None) -> None:
        super().__init__(f"approval {approval_id} is already {status}")
        self.status = status
        self.decision = decision


class OutcomeReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    order: str
    carrier_reliability: dict[str, float] = {}
    node_accuracy: dict[str, float] = {}
    notes: list[str] = []


class Resolver:
    def __init__(self, context: ResolverContext, checkpointer: BaseCheckpointSaver[Any]) -> None:
        self.context = context
        self.graph = compile_graph(checkpointer)
        # Who holds a claim: host, process and this resolver instance.
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    @property
    def store(self) -> Store:
        return self.context.store

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
        settings = settings or Settings()
        url = db_url or settings.database_url
        with ExitStack() as stack:
            store = Store.open(url)
            stack.callback(store.close)
            if policy is None:
                policy = load_policy(settings.policy) if settings.policy else default_policy()
            advisor = None
            if use_llm and settings.llm_configured:
                from agents.advisor import LlmAdvisor
                from agents.llm_client import LlmClient

                client = LlmClient.from_settings(settings)
                advisor = LlmAdvisor(client) if client is not None else None
            if memory is None and use_memory:
                memory = open_memory(settings)
            checkpointer = stack.enter_context(checkpointer_for(url))
            context = ResolverContext(
                store=store,
                policy=policy,
                carrier=carrier or SimulatedCarrier(store),
                advisor=advisor,
                memory=memory,
            )
            yield cls(context, checkpointer)

    # -- exceptions ---------------------------------------------------------------------
    @staticmethod
    def config(exception_id: str) -> RunnableConfig:
        return {"configurable": {"thread_id": exception_id}}

    def check_references(self, event: ExceptionEvent) -> None:
        """Unknown ids in an event are bad input: refuse it before anything is written."""
        if not self.store.has_network():
            raise InputError("exception event", ["no network loaded: run `execlayer load` first"])
        view = self.store.view(event.orders)
        problems = [
            f"orders[{i}]: unknown order {o!r}"
            for i, o in enumerate(event.orders)
            if o not in view.orders
        ]
        for field, value, known in (
            ("node", event.node, view.nodes),
            ("carrier", event.carrier, view.carriers),
            ("sku", event.sku, view.skus),
        ):
            if value is not None and value not in known:
                problems.append(f"{field}: unknown {field} {value!r}")
        if event.region is not None:
            regions = {n.region for n in view.nodes.values()} | {
                r for c in view.carriers.values() for r in c.regions
            }
            if event.region not in regions:
                problems.append(f"region: unknown region {event.region!r}")
        if problems:
            raise InputError("exception event", problems)

    def resolve(self, event: ExceptionEvent) -> Decision:
        self.check_references(event)
        record, created = self.store.register_exception(
            event, status="processing", claimed_by=self.worker_id
        )
        if not created:
            return self._existing(event.id, record.decision)
        return self._invoke({"event": event, "started_ns": time.time_ns()}, event.id)

    def _existing(self, exception_id: str, decision: Decision | None) -> Decision:
        """A duplicate: the first decision. If it is still being made, wait for it; if its
        resolver died (its claim is stale), take over and finish it from its checkpoint."""
        deadline = time.monotonic() + DUPLICATE_WAIT_S
        while decision is None:
            if self._take_over_if_stale(exception_id):
                return self._invoke(None, exception_id)
            if time.monotonic() >= deadline:
                raise ResolutionError(
                    f"{exception_id} is still being resolved elsewhere; ask again shortly"
                )
            time.sleep(0.05)
            record = self.store.get_exception(exception_id)
            decision = record.decision if record is not None else None
        return decision

    def _take_over_if_stale(self, exception_id: str, lease: timedelta = CLAIM_LEASE) -> bool:
        return self.store.take_over_exception(
            exception_id, self.worker_id, self.context.clock() - lease
        )

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
            raise ResolutionError(
                f"resolution of {exception_id} stopped: {type(exc).__name__}: {exc}. "
                "Completed steps are recorded; it resumes from its last checkpoint."
            ) from exc
        decision = result.get("decision") if isinstance(result, dict) else None
        if decision is None:
            record = self.store.get_exception(exception_id)
            decision = record.decision if record is not None else None
        if decision is None:
            raise ResolutionError(f"resolution of {exception_id} produced no decision")
        return decision

    def decision(self, exception_id: str) -> Decision | None:
        record = self.store.get_exception(exception_id)
        return record.decision if record is not None else None

    # -- approvals ----------------------------------------------------------------------
    def decide_approval(self, approval_id: str, human: HumanDecision) -> Decision:
        approval = self.store.get_approval(approval_id)
        if approval is None:
            raise ApprovalNotFound(f"no approval {approval_id!r}")
        exception_id = approval.exception_id
        if approval.status is not ApprovalStatus.PENDING:
            raise ApprovalAlreadyDecided(
                approval_id, approval.status.value, self.decision(exception_id)
            )
        status = ApprovalStatus.APPROVED if human.decision == "approve" else ApprovalStatus.REJECTED
        won = self.store.decide_approval(
            approval_id, status, human.actor, human.channel, human.comment or None
        )
        if not won:
            current = self.store.get_approval(approval_id)
            raise ApprovalAlreadyDecided(
                approval_id,
                current.status.value if current else "gone",
                self.decision(exception_id),
            )
        self.store.append_approval_log(
            approval_id,
            exception_id,
            status.value,
            human.actor,
            {"channel": human.channel, "comment": human.comment},
        )
        return self._resume(exception_id, human)

    def _resume(self, exception_id: str, human: HumanDecision) -> Decision:
        return self._invoke(Command(resume=human.model_dump(mode="json")), exception_id)

    def recover(self, lease: timedelta = CLAIM_LEASE) -> list[Decision]:
        """Finish work a crash interrupted; safe to call at every start-up and from several
        processes: approvals decided but not yet resumed, and runs whose claim went stale
        (taken over by exactly one process)."""
        finished: list[Decision] = []
        for approval in self.store.list_approvals():
            if approval.status not in (ApprovalStatus.APPROVED, ApprovalStatus.REJECTED):
                continue
            exception_id = approval.exception_id
            current = self.decision(exception_id)
            if current is None or current.status is not DecisionStatus.PENDING_APPROVAL:
                continue
            if current.approval is None or current.approval.id != approval.id:
                continue
            human = HumanDecision(
                decision="approve" if approval.status is ApprovalStatus.APPROVED else "reject",
                actor=approval.decided_by or "unknown",
                channel=approval.channel or "api",
                comment=approval.comment or "",
                decided_at=approval.decided_at,
            )
            finished.append(self._resume(exception_id, human))
        for record in self.store.list_exceptions(status="processing", limit=1000):
            if record.decision is None and self._take_over_if_stale(record.id, lease):
                finished.append(self._invoke(None, record.id))
        return finished

    # -- outcomes -----------------------------------------------------------------------
    def record_outcome(self, outcome: OrderOutcome) -> OutcomeReport:
        order = self.store.get_order(outcome.order)
        if order is None:
            raise InputError("outcome", [f"order: unknown order {outcome.order!r}"])
        key = "outcome:" + hashlib.sha256(outcome.model_dump_json().encode()).hexdigest()[:24]
        self.store.append_outcome_log(
            outcome.order, outcome.exception_id, outcome.model_dump(mode="json")
        )
        report = OutcomeReport(order=order.id)
        view = self.store.view([order.id])
        if outcome.delivered_on_time is not None:
            carrier = outcome.carrier
            if carrier is None and order.allocation is not None:
                found = view.services.get(order.allocation.carrier_service)
                carrier = found[0].id if found else None
            region = outcome.region or order.ship_to.region
            if carrier is None:
                report.notes.append("delivery not learnt: no carrier known for the order")
            elif carrier not in view.carriers:
                raise InputError("outcome", [f"carrier: unknown carrier {carrier!r}"])
            else:
                self.store.record_delivery(carrier, region, outcome.delivered_on_time, key)
                report.carrier_reliability = {
                    k: v
                    for k, v in self.store.reliability_posteriors().items()
                    if k == f"{carrier}/{region}"
                }
        if outcome.picked_units is not None and outcome.expected_units:
            node = outcome.node or (order.allocation.node if order.allocation else None)
            if node is None or node not in view.nodes:
                raise InputError("outcome", [f"node: unknown or missing node {node!r}"])
            self.store.record_pick(node, outcome.expected_units, outcome.picked_units, key)
            report.node_accuracy = {
                k: v for k, v in self.store.accuracy_posteriors().items() if k == node
            }
        memory = self.context.memory
        if memory is not None and outcome.exception_id:
            try:
                memory.record_outcome(
                    outcome.exception_id,
                    PrecedentOutcome(
                        promise_kept=outcome.delivered_on_time,
                        partner_accepted=outcome.partner_accepted,
                        actual_cost=outcome.actual_cost,
                    ),
                )
            except MemoryUnavailable as exc:
                report.notes.append(f"precedent not updated: {exc}")
        return report


def open_memory(settings: Settings) -> PrecedentMemory | None:
    from agents.memory import PrecedentMemory  # chromadb: imported only when memory is used

    try:
        return PrecedentMemory.open(settings.memory_dir)
    except MemoryUnavailable as exc:
        log.warning("precedent memory unavailable, continuing without it: %s", exc)
        return None
