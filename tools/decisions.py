"""Actions, candidates, verdicts and the decision of contract section 3, and outcomes.

These are the shapes that cross every boundary: the sourcing tools produce `Candidate`s,
the guardrails attach `Verdict`s, the resolver returns a `Decision`, and people (or systems)
report an `Outcome` of what really happened.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    model_serializer,
)

from tools.network import Id, Strict


class ActionType(StrEnum):
    REALLOCATE = "reallocate"
    SPLIT = "split"
    BOOK_CARRIER = "book_carrier"
    UPGRADE_SERVICE = "upgrade_service"
    REPROMISE = "repromise"
    BACKORDER = "backorder"
    CANCEL_LINES = "cancel_lines"
    TRANSFER_INVENTORY = "transfer_inventory"
    NOTIFY_CUSTOMER = "notify_customer"
    HOLD = "hold"


class DecisionStatus(StrEnum):
    AUTO_RESOLVED = "auto_resolved"
    PENDING_APPROVAL = "pending_approval"
    RESOLVED = "resolved"
    ESCALATED = "escalated"
    REJECTED = "rejected"
    FAILED = "failed"


# A decision in one of these states is final: nothing more will be executed for it.
FINAL_STATUSES = frozenset(
    {
        DecisionStatus.AUTO_RESOLVED,
        DecisionStatus.RESOLVED,
        DecisionStatus.ESCALATED,
        DecisionStatus.REJECTED,
        DecisionStatus.FAILED,
    }
)


class DecidedBy(StrEnum):
    POLICY = "policy"
    LLM = "llm"
    HUMAN = "human"


class Outcome(StrEnum):
    """A guardrail verdict's outcome. Ordered by strictness: deny > approve > allow."""

    ALLOW = "allow"
    APPROVE = "approve"
    DENY = "deny"

    @property
    def strictness(self) -> int:
        return {"allow": 0, "approve": 1, "deny": 2}[self.value]


class DropNone(BaseModel):
    """Output models that leave out fields which do not apply (None), for readable JSON."""

    model_config = ConfigDict(extra="forbid")

    @model_serializer(mode="wrap")
    def _drop_none(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return {k: v for k, v in data.items() if v is not None}


class ActionLine(Strict):
    sku: Id
    qty: Annotated[int, Field(gt=0)]


class SplitLeg(DropNone):
    """One shipment of a split: which node ships which lines with which service."""

    node: Id
    carrier_service: Id
    lines: list[ActionLine]
    cost: float = 0.0
    eta: AwareDatetime | None = None


class Action(DropNone):
    """One executable step. Every action names its `order` (or `orders` when network-wide)."""

    type: ActionType
    order: Id | None = None
    orders: list[Id] | None = None
    node: Id | None = None
    carrier_service: Id | None = None
    lines: list[ActionLine] = Field(default_factory=list)
    cost_delta: float = 0.0
    eta: AwareDatetime | None = None
    legs: list[SplitLeg] | None = None  # split: one leg per shipping node
    from_node: Id | None = None  # the node work or stock moves away from
    promised_by: AwareDatetime | None = None  # repromise / backorder: the new promise
    message: str | None = None  # notify_customer: what the customer is told
    reason: str | None = None

    def touched_orders(self) -> list[str]:
        if self.orders:
            return list(self.orders)
        return [self.order] if self.order else []

    def nodes(self) -> list[str]:
        """Every node this action sends work to (legs of a split included)."""
        found = [leg.node for leg in self.legs or []]
        if self.node and self.node not in found:
            found.insert(0, self.node)
        return found

    def carrier_services(self) -> list[str]:
        found = [leg.carrier_service for leg in self.legs or []]
        if self.carrier_service and self.carrier_service not in found:
            found.insert(0, self.carrier_service)
        return found


class ScoreBreakdown(BaseModel):
    """Expected cost of a candidate, in money, and where it comes from. Lower is better."""

    model_config = ConfigDict(extra="forbid")

    total: float
    shipping: float = 0.0
    handling: float = 0.0
    lateness_risk: float = 0.0  # P(late) x lateness penalty for the tier/channel
    split_penalty: float = 0.0
    inventory_risk: float = 0.0  # units on low-accuracy records x cost of a failed pick
    node_strain: float = 0.0  # utilisation pressure on the nodes used
    margin_impact: float = 0.0  # margin given up (cancelled lines, upgrades not recharged)
    promise_change: float = 0.0  # re-promise / backorder goodwill cost
    notes: list[str] = Field(default_factory=list)


class Verdict(DropNone):
    rule: str
    outcome: Outcome
    reason: str
    candidate: str | None = None
    order: str | None = None
    value: float | None = None
    limit: float | None = None


class Candidate(DropNone):
    """A validated resolution the resolver may choose: actions plus their predicted effect."""

    id: str
    kind: str
    summary: str
    actions: list[Action]
    orders: list[Id]
    score: ScoreBreakdown
    cost_delta: float = 0.0
    eta: AwareDatetime | None = None
    on_time_probability: float | None = None
    units_by_node: dict[str, int] = Field(default_factory=dict)  # inventory taken per node
    capacity_by_node: dict[str, int] = Field(default_factory=dict)  # pick/pack units per node
    verdicts: list[Verdict] = Field(default_factory=list)
    uncovered_orders: list[Id] | None = None  # batch plans: orders left without a resolution


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"


class Approval(DropNone):
    id: str
    reasons: list[str]
    status: ApprovalStatus = ApprovalStatus.PENDING
    requested_at: AwareDatetime | None = None
    decided_at: AwareDatetime | None = None
    decided_by: str | None = None  # identity of the person (API key name, Slack user id)
    channel: str | None = None  # api | slack | console | cli | chat
    comment: str | None = None


class LlmUsage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def plus(self, other: LlmUsage) -> LlmUsage:
        return LlmUsage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            calls=self.calls + other.calls,
        )


class Decision(BaseModel):
    """What `execlayer resolve --json` prints and the API returns (contract section 3)."""

    model_config = ConfigDict(extra="forbid")

    exception_id: str
    status: DecisionStatus
    actions: list[Action] = Field(default_factory=list)
    candidates: list[Candidate] = Field(default_factory=list)
    chosen: str | None = None
    verdicts: list[Verdict] = Field(default_factory=list)
    approval: Approval | None = None
    rationale: str = ""
    policy_version: str
    # Short hash of the exact policy that decided (`guardrails.policy.policy_fingerprint`).
    policy_fingerprint: str | None = None
    decided_by: DecidedBy = DecidedBy.POLICY
    latency_ms: float = 0.0
    event_type: str | None = None
    orders: list[str] = Field(default_factory=list)  # orders the exception touched
    llm_usage: LlmUsage = Field(default_factory=LlmUsage)
    decided_at: AwareDatetime | None = None

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


class OrderOutcome(Strict):
    """What really happened to an order after a decision: `POST /v1/outcomes`."""

    order: Id
    exception_id: str | None = None
    occurred_at: AwareDatetime | None = None
    node: Id | None = None  # node that picked (default: the order's allocation)
    carrier: Id | None = None  # carrier that delivered (default: the allocation's)
    region: Id | None = None  # destination region (default: the order's ship-to)
    expected_units: Annotated[int, Field(ge=0)] | None = None  # units the record promised
    picked_units: Annotated[int, Field(ge=0)] | None = None  # units really found
    shipped: bool | None = None
    delivered_at: AwareDatetime | None = None
    delivered_on_time: bool | None = None  # against the order's promise
    # Delivered by the carrier's own ETA (transit it quoted), whatever slack the promise had:
    # what carrier reliability learns from. Absent: `delivered_on_time` stands in for it.
    carrier_on_time: bool | None = None
    partner_accepted: bool | None = None
    actual_cost: float | None = None
    note: Annotated[str, Field(max_length=2000)] | None = None  # untrusted free text


def now_utc() -> datetime:
    return datetime.now(UTC)
