"""Request and response models of the HTTP API (every response is typed in OpenAPI)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from agents.assistant.models import ToolCallRecord
from agents.assistant.reads import NodeLevel
from agents.state import Execution, Signals
from tools.decisions import Decision
from tools.events import ExceptionEvent
from tools.store import ApprovalRecord, AuditTrail


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- errors --------------------------------------------------------------------------------
ErrorCode = Literal[
    "validation_error",
    "unauthorized",
    "forbidden",
    "not_found",
    "conflict",
    "unavailable",
    "not_implemented",
    "bad_signature",
    "internal",
]


class FieldProblem(Model):
    field: str  # e.g. `orders[0]`, `occurred_at`, `(document)`
    message: str


class ErrorBody(Model):
    """Every error answer: a code, a readable message, the fields at fault (422) and, for a
    conflict on an approval, the exception's current decision."""

    error: ErrorCode
    message: str
    fields: list[FieldProblem] = Field(default_factory=list)
    decision: Decision | None = None


# -- exceptions ----------------------------------------------------------------------------
class ExceptionSummary(Model):
    id: str
    type: str
    status: str
    source: str
    occurred_at: AwareDatetime
    received_at: AwareDatetime
    updated_at: AwareDatetime
    orders: list[str]
    scope: dict[str, str] = Field(default_factory=dict)  # node / carrier / region / sku given
    summary: str | None = None  # the chosen plan in one line
    cost_delta: float | None = None  # sum over the decision's actions
    decided_by: str | None = None
    approval_id: str | None = None
    approval_status: str | None = None


class QueuedException(Model):
    """`POST /v1/exceptions?mode=queue`: accepted and queued; a worker decides it. Poll
    `GET /v1/exceptions/{id}` (its `location`) for the decision."""

    exception_id: str
    status: Literal["queued", "processing"]
    received_at: AwareDatetime
    location: str


class ExceptionPage(Model):
    items: list[ExceptionSummary]
    status: str | None = None
    limit: int
    offset: int


class ExceptionDetail(Model):
    """A decision and its audit trail: the signals it rested on, the candidates and verdicts
    (in `decision`), how execution went, who approved, and what happened afterwards."""

    exception_id: str
    status: str
    event: ExceptionEvent
    received_at: AwareDatetime
    updated_at: AwareDatetime
    decision: Decision | None = None
    signals: Signals | None = None
    executions: list[Execution] = Field(default_factory=list)
    escalation_reason: str | None = None
    approvals: list[ApprovalRecord] = Field(default_factory=list)
    audit: AuditTrail


# -- approvals -----------------------------------------------------------------------------
class ApprovalItem(Model):
    approval: ApprovalRecord
    exception_type: str | None = None
    orders: list[str] = Field(default_factory=list)
    summary: str | None = None
    cost_delta: float | None = None
    rationale: str | None = None


class ApprovalPage(Model):
    items: list[ApprovalItem]
    status: str | None = None


class ApprovalDecisionRequest(Model):
    decision: Literal["approve", "reject"]
    comment: Annotated[str, Field(max_length=2000)] = ""


# -- chat ----------------------------------------------------------------------------------
class ChatRequest(Model):
    session_id: Annotated[str, Field(min_length=1, max_length=128)]
    message: Annotated[str, Field(min_length=1, max_length=4000)]


class ChatReply(Model):
    session_id: str
    answer: str
    mode: Literal["commands", "llm", "llm_unavailable"] = "commands"
    tool_calls: list[ToolCallRecord] = Field(
        default_factory=list, description="Every tool the assistant called, with its result"
    )
    llm_failure: str | None = None


# -- health --------------------------------------------------------------------------------
class ComponentHealth(Model):
    ok: bool
    detail: str


class LlmHealth(Model):
    configured: bool
    model: str | None = None


class SlackHealth(Model):
    configured: bool
    channel: str | None = None
    approvers: int = 0


class HealthReport(Model):
    status: Literal["ok", "degraded"]
    database: ComponentHealth
    checkpointer: ComponentHealth
    network_loaded: bool
    llm: LlmHealth
    slack: SlackHealth
    version: str


class NodeHealth(Model):
    id: str
    kind: str
    region: str
    status: str
    capacity_units_per_day: int
    backlog_units: int
    utilization: float
    inventory_accuracy: float
    level: NodeLevel


class LaneHealth(Model):
    region: str
    reliability: float
    disrupted: bool


class CarrierHealth(Model):
    id: str
    on_time_rate: float
    regions: list[str]
    disrupted_regions: list[str]
    lanes: list[LaneHealth]


class NetworkHealth(Model):
    loaded: bool
    as_of: datetime | None = None
    max_node_utilization: float
    busy_threshold: float
    nodes: list[NodeHealth] = Field(default_factory=list)
    carriers: list[CarrierHealth] = Field(default_factory=list)
    overloaded_nodes: list[str] = Field(default_factory=list)
    disrupted_carriers: list[str] = Field(default_factory=list)
    open_orders: int = 0
