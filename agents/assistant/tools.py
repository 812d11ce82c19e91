"""The assistant's tool registry: pydantic argument models, the role each tool needs, and
one `call` that validates, checks the role, runs and records.

The role check lives here, not in a prompt: whatever asks for a tool (a typed command or an
LLM), `ToolRegistry.call` refuses an action the asker's role does not allow and changes
nothing. Action tools only go through the resolver (`AssistantBackend.resolve` runs the
graph: perceive, decide, guardrails, approval, act; `decide_approval` resumes it, and the
guardrails are re-checked against the current state before anything executes).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agents.assistant.backend import AssistantBackend
from agents.assistant.models import Asker, RoleName, ToolCallRecord
from agents.assistant.reads import (
    ToolError,
    explain_decision,
    network_health,
    order_status,
    pending_approvals,
    search_precedents,
)
from agents.assistant.whatif import what_if
from agents.resolver_core import ApprovalAlreadyDecided, ApprovalNotFound, ResolutionError
from agents.state import HumanDecision
from tools.decisions import Decision
from tools.events import EventType, ExceptionEvent
from tools.inputs import InputError, describe

log = logging.getLogger(__name__)

Ref = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:\-]+$")]


class Args(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class NoArgs(Args):
    pass


class OrderArgs(Args):
    order_id: Ref = Field(description="An order id, e.g. O-1001")


class ExplainArgs(Args):
    ref: Ref = Field(description="An exception id (EX-...) or an order id (O-...): its latest")


class PrecedentArgs(Args):
    query: str = Field(min_length=3, max_length=500, description="What happened, in words")
    k: int = Field(default=3, ge=1, le=10)


class WhatIfArgs(Args):
    kind: Literal["carrier", "node"] = Field(
        description="carrier: a carrier stops serving a region; node: a node closes"
    )
    carrier: Ref | None = Field(default=None, description="Carrier id (kind=carrier)")
    region: Ref | None = Field(default=None, description="Region, e.g. SE (kind=carrier)")
    node: Ref | None = Field(default=None, description="Node id (kind=node)")


class SubmitArgs(Args):
    type: EventType = Field(description="The exception type")
    orders: list[Ref] = Field(default_factory=list, max_length=100)
    node: Ref | None = None
    carrier: Ref | None = None
    region: Ref | None = None
    sku: Ref | None = None
    note: str | None = Field(default=None, max_length=2000, description="What happened")


class DecideArgs(Args):
    approval_id: Ref = Field(description="The approval id, e.g. AP-EX-P4")
    decision: Literal["approve", "reject"]
    comment: str = Field(default="", max_length=2000)


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    args: type[Args]
    needs: RoleName
    run: Callable[[AssistantBackend, Asker, Any], BaseModel | dict[str, Any]]
    action: bool = False  # changes the world (through the resolver)


class DecisionBrief(BaseModel):
    model_config = ConfigDict(extra="forbid")

    exception_id: str
    status: str
    summary: str | None
    rationale: str
    approval_id: str | None = None
    approval_status: str | None = None
    cost_delta: float | None = None


def decision_brief(decision: Decision) -> DecisionBrief:
    chosen = next((c for c in decision.candidates if c.id == decision.chosen), None)
    return DecisionBrief(
        exception_id=decision.exception_id,
        status=decision.status.value,
        summary=chosen.summary if chosen is not None else None,
        rationale=decision.rationale,
        approval_id=decision.approval.id if decision.approval else None,
        approval_status=decision.approval.status.value if decision.approval else None,
        cost_delta=round(sum(a.cost_delta for a in decision.actions), 2)
        if decision.actions
        else None,
    )


def _submit(backend: AssistantBackend, asker: Asker, args: SubmitArgs) -> DecisionBrief:
    event = ExceptionEvent(
        id=f"CHAT-{uuid.uuid4().hex[:12]}",
        type=args.type,
        occurred_at=backend.clock(),
        source="chat",
        orders=args.orders,
        node=args.node,
        carrier=args.carrier,
        region=args.region,
        sku=args.sku,
        details={"reported_by": asker.name, "channel": asker.channel},
        text=args.note,
    )
    return decision_brief(backend.resolve(event))


def _decide(backend: AssistantBackend, asker: Asker, args: DecideArgs) -> DecisionBrief:
    human = HumanDecision(
        decision=args.decision,
        actor=asker.name,
        channel="chat",
        comment=args.comment or f"{args.decision}d in chat ({asker.channel})",
    )
    return decision_brief(backend.decide_approval(args.approval_id, human))


TOOLS: tuple[Tool, ...] = (
    Tool(
        "order_status",
        "An order's status, allocation (node, carrier service), promise and the exceptions "
        "that touched it.",
        OrderArgs,
        "viewer",
        lambda b, a, x: order_status(b.store, x.order_id),
    ),
    Tool(
        "explain_decision",
        "Why a decision was made, from the audit trail: event, chosen plan, rationale, "
        "guardrail verdicts, actions, approval and executed steps.",
        ExplainArgs,
        "viewer",
        lambda b, a, x: explain_decision(b.store, x.ref),
    ),
    Tool(
        "network_health",
        "Node utilisation and level (ok, busy, overloaded, degraded, closed) and disrupted "
        "carrier lanes.",
        NoArgs,
        "viewer",
        lambda b, a, x: network_health(b.store, b.policy),
    ),
    Tool(
        "pending_approvals",
        "Approvals waiting for a person: what would run, its cost and why a person is needed.",
        NoArgs,
        "viewer",
        lambda b, a, x: pending_approvals(b.store),
    ),
    Tool(
        "search_precedents",
        "Similar past exceptions and how they ended.",
        PrecedentArgs,
        "viewer",
        lambda b, a, x: search_precedents(b.memory, x.query, x.k),
    ),
    Tool(
        "what_if",
        "Simulate a disruption without acting: a carrier stops serving a region, or a node "
        "closes. Returns the affected orders, the re-plan and its cost and on-time impact.",
        WhatIfArgs,
        "viewer",
        lambda b, a, x: what_if(
            b.store,
            b.policy,
            x.kind,
            carrier=x.carrier,
            region=x.region,
            node=x.node,
            now=b.clock(),
        ),
    ),
    Tool(
        "submit_exception",
        "Report an exception; the resolver decides it (guardrails apply; it may need an "
        "approval). Operators and above.",
        SubmitArgs,
        "operator",
        _submit,
        action=True,
    ),
    Tool(
        "decide_approval",
        "Approve or reject a pending approval; approving re-checks the guardrails against "
        "the current state, then executes. Approvers and above.",
        DecideArgs,
        "approver",
        _decide,
        action=True,
    ),
)

_SECRET_FIELD = re.compile(r"(?i)(api[_-]?key|secret|token|password|credential)")


class ToolRegistry:
    def __init__(self, backend: AssistantBackend, tools: tuple[Tool, ...] = TOOLS) -> None:
        self.backend = backend
        self.tools = {t.name: t for t in tools}

    def allowed(self, asker: Asker) -> list[Tool]:
        return [t for t in self.tools.values() if asker.can(t.needs)]

    def call(
        self,
        asker: Asker,
        name: str,
        arguments: dict[str, Any],
        *,
        requested_by: Literal["command", "llm"] = "command",
        guard: Callable[[Tool, Args], str | None] | None = None,
    ) -> ToolCallRecord:
        """Validate, check the role (and `guard`, e.g. that the user asked for an action),
        run; never raises for anything a caller or a tool does."""

        def record(status: Any, **fields: Any) -> ToolCallRecord:
            return ToolCallRecord(
                tool=name, arguments=arguments, status=status, requested_by=requested_by, **fields
            )

        tool = self.tools.get(name)
        if tool is None:
            return record("invalid", error=f"there is no tool {name!r}")
        try:
            args = tool.args.model_validate(arguments)
        except ValidationError as exc:
            return record("invalid", error="; ".join(describe(exc)))
        if not asker.can(tool.needs):
            return record(
                "refused",
                error=f"{name} needs the {tool.needs} role or above; {asker.name} is a "
                f"{asker.role}: nothing was changed",
            )
        if guard is not None:
            reason = guard(tool, args)
            if reason is not None:
                return record("refused", error=f"{reason}: nothing was changed")
        try:
            result = tool.run(self.backend, asker, args)
        except ToolError as exc:
            return record("error", error=str(exc))
        except InputError as exc:
            return record("error", error=str(exc))
        except ApprovalNotFound:
            return record("error", error=f"there is no approval {arguments.get('approval_id')!r}")
        except ApprovalAlreadyDecided as exc:
            return record("error", error=f"nothing changed: {exc}")
        except ResolutionError as exc:
            return record("error", error=f"the resolver stopped: {exc}")
        except Exception as exc:  # a bug or an outage: said, logged, never a crash
            log.exception("assistant tool %s failed", name)
            return record("error", error=f"{name} failed: {type(exc).__name__}")
        data = result.model_dump(mode="json") if isinstance(result, BaseModel) else result
        return record("ok", result=scrub(data))


def scrub(value: Any) -> Any:
    """Drop any field whose name says it holds a secret (no tool returns one; belt and braces)."""
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items() if not _SECRET_FIELD.search(str(k))}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value
