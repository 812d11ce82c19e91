"""What the store returns: pydantic models (never ORM rows)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from tools.decisions import Approval, Decision
from tools.events import ExceptionEvent


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EntityChanges(Frozen):
    """How one kind of network entity changed when a snapshot was loaded."""

    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        """Entities of this kind in the new snapshot."""
        return self.added + self.updated + self.unchanged

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


class LoadReport(Frozen):
    """What `load_snapshot` did. `changes` is keyed by kind: skus, nodes, inventory, carriers,
    orders (a carrier counts as updated when any of its services changed)."""

    as_of: AwareDatetime
    previous_as_of: AwareDatetime | None
    refreshed: bool  # a network was already loaded and has been replaced
    changes: dict[str, EntityChanges]
    loaded_at: AwareDatetime

    @property
    def counts(self) -> dict[str, int]:
        return {kind: c.total for kind, c in self.changes.items()}

    @property
    def changed(self) -> bool:
        return any(c.changed for c in self.changes.values()) or self.previous_as_of != self.as_of


class EffectResult(Frozen):
    """The outcome of an idempotent effect. `replayed` is True when the key had already been
    applied (nothing changed this time; `before`/`after` are the first application's)."""

    key: str
    kind: str
    target: str
    before: dict[str, Any]
    after: dict[str, Any]
    replayed: bool = False
    compensates: str | None = None  # the key this effect undoes, for compensations


class ReservationState(StrEnum):
    HELD = "held"
    RELEASED = "released"


class Reservation(Frozen):
    key: str
    node: str
    sku: str
    qty: int
    state: ReservationState
    created_at: AwareDatetime
    released_at: AwareDatetime | None = None
    replayed: bool = False  # this call found the key already applied


class ExceptionStatus(StrEnum):
    """Where an exception is in its life: queued/processing, then a decision status."""

    QUEUED = "queued"
    PROCESSING = "processing"
    AUTO_RESOLVED = "auto_resolved"
    PENDING_APPROVAL = "pending_approval"
    RESOLVED = "resolved"
    ESCALATED = "escalated"
    REJECTED = "rejected"
    FAILED = "failed"


class ExceptionRecord(Frozen):
    id: str
    event: ExceptionEvent
    status: str
    received_at: AwareDatetime
    updated_at: AwareDatetime
    decision: Decision | None = None
    claimed_by: str | None = None
    claimed_at: AwareDatetime | None = None
    attempts: int = 0


class ApprovalRecord(Approval):
    """A stored approval: the contract's `Approval` plus the exception it belongs to."""

    exception_id: str

    def to_approval(self) -> Approval:
        return Approval.model_validate(self.model_dump(exclude={"exception_id"}))


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class OutboxItem(Frozen):
    id: int
    key: str
    kind: str
    payload: dict[str, Any]
    status: OutboxStatus
    attempts: int
    next_attempt_at: AwareDatetime
    last_error: str | None = None
    created_at: AwareDatetime
    sent_at: AwareDatetime | None = None


class DecisionLogEntry(Frozen):
    id: int
    exception_id: str
    recorded_at: AwareDatetime
    payload: dict[str, Any]


class ActionLogEntry(Frozen):
    id: int
    exception_id: str
    recorded_at: AwareDatetime
    step: str
    key: str
    status: str
    nodes: list[str] = Field(default_factory=list)
    autonomous: bool = True
    detail: dict[str, Any] = Field(default_factory=dict)


class ActionNote(NamedTuple):
    """One act-phase step to log (see `Store.append_action_logs`)."""

    step: str
    key: str
    status: str
    detail: dict[str, Any]
    nodes: Sequence[str] = ()
    autonomous: bool = True


class ApprovalLogEntry(Frozen):
    id: int
    approval_id: str
    exception_id: str
    recorded_at: AwareDatetime
    event: str
    actor: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


class OutcomeLogEntry(Frozen):
    id: int
    order_id: str
    exception_id: str | None = None
    recorded_at: AwareDatetime
    payload: dict[str, Any]


class ChatLogEntry(Frozen):
    """One line of the chat assistant's log: a message, a tool call with its result, or an
    answer."""

    id: int
    session_id: str
    recorded_at: AwareDatetime
    actor: str
    role: str
    channel: str
    kind: str
    payload: dict[str, Any]


class AuditTrail(Frozen):
    """Everything recorded about one exception, each list in time order."""

    exception_id: str
    decisions: list[DecisionLogEntry] = Field(default_factory=list)
    actions: list[ActionLogEntry] = Field(default_factory=list)
    approvals: list[ApprovalLogEntry] = Field(default_factory=list)
    outcomes: list[OutcomeLogEntry] = Field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.decisions or self.actions or self.approvals or self.outcomes)


class Posterior(Frozen):
    """A Beta posterior after a learning update (`mean` = alpha / (alpha + beta))."""

    key: str
    alpha: float
    beta: float
    observations: int
    updated_at: datetime
    replayed: bool = False

    @property
    def mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)


class StoredBooking(Frozen):
    """A carrier booking as the store keeps it (the simulated carrier's book of record)."""

    key: str
    booking_id: str
    carrier: str
    carrier_service: str
    order_id: str
    state: str  # booked | cancelled
    payload: dict[str, Any]
    created_at: AwareDatetime
    cancelled_at: AwareDatetime | None = None
    cancel_key: str | None = None
