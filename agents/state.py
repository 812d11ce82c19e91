"""What flows through the resolver graph and is checkpointed at every step.

The state stays small: facts a person needs to audit a decision (signals summary, candidates,
verdicts, the plan's execution) and nothing heavy. The indexed network a step works on is
re-read from the store (or taken from the per-process cache in the run-time context), never
checkpointed: after a resume, possibly in another process, steps work on fresh state anyway.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal, TypedDict

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from tools.decisions import (
    Approval,
    Candidate,
    DecidedBy,
    Decision,
    DecisionStatus,
    LlmUsage,
    Verdict,
)
from tools.events import ExceptionEvent


class NodeSignal(BaseModel):
    """A fulfilment node as perception saw it."""

    model_config = ConfigDict(extra="forbid")

    node: str
    kind: str
    status: str
    utilization: float
    backlog_units: int
    capacity_units_per_day: int
    inventory_accuracy: float
    cutoff_hour_utc: int
    atp: dict[str, int] = Field(default_factory=dict)  # per SKU the event's orders need


class LaneSignal(BaseModel):
    model_config = ConfigDict(extra="forbid")

    carrier: str
    region: str
    reliability: float
    disrupted: bool


class PrecedentSignal(BaseModel):
    model_config = ConfigDict(extra="forbid")

    exception_id: str
    similarity: float
    summary: str


class Signals(BaseModel):
    """What perception gathered: the facts the decision rests on, kept for the audit trail."""

    model_config = ConfigDict(extra="forbid")

    affected_orders: list[str]
    nodes: list[NodeSignal] = Field(default_factory=list)
    lanes: list[LaneSignal] = Field(default_factory=list)
    precedents: list[PrecedentSignal] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    interpreted_from_text: bool = False
    text_summary: str | None = None  # what the classifier understood of untrusted text


class HumanDecision(BaseModel):
    """The value an approval is resumed with (`Command(resume=...)`)."""

    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "reject"]
    actor: Annotated[str, Field(min_length=1, max_length=200)]
    channel: Annotated[str, Field(min_length=1, max_length=32)] = "api"
    comment: Annotated[str, Field(max_length=2000)] = ""
    decided_at: AwareDatetime | None = None


class StepStatus(StrEnum):
    DONE = "done"
    FAILED = "failed"
    COMPENSATED = "compensated"


class StepRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    step: str  # reserve | book | release | repromise | notify | compensate
    key: str
    status: StepStatus
    detail: str = ""


class Execution(BaseModel):
    """How executing the chosen plan went: the steps done (and undone), in order."""

    model_config = ConfigDict(extra="forbid")

    attempt: int
    candidate: str
    steps: list[StepRecord] = Field(default_factory=list)
    succeeded: bool = False
    failure: str | None = None
    # What the failure taught us, so that a second decision avoids it.
    unbookable_services: list[str] = Field(default_factory=list)


class ResolverState(TypedDict, total=False):
    event: ExceptionEvent  # as received
    working_event: ExceptionEvent  # as understood (classified, if it was free text)
    signals: Signals
    candidates: list[Candidate]
    chosen: str | None
    decided_by: DecidedBy
    rationale: str
    verdicts: list[Verdict]
    route: str  # where guard sent the plan: act | approve | escalate
    approval: Approval | None
    human: HumanDecision | None
    attempt: int  # 1 for the first plan, 2 after one failed execution
    executions: list[Execution]
    avoid_services: list[str]  # learnt from failed bookings within this resolution
    llm_usage: LlmUsage
    escalation_reason: str | None
    status: DecisionStatus
    decision: Decision
    started_ns: int  # perf-counter time the run started (latency of this process's run)
