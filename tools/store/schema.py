"""The store's tables (SQLAlchemy 2.0 declarative). Alembic migrations create them.

Network tables mirror the snapshot of contract section 1; every row keeps its insertion
position (`pos`) so that exporting reproduces the snapshot's order exactly. Floats are double
precision, ints are integers, and times that come from a snapshot are kept as the ISO text the
snapshot wrote (so a `+02:00` offset survives a round trip); times the store itself stamps are
UTC `DateTime`s.

The four `*_log` tables are the append-only audit: the migration installs triggers that reject
UPDATE and DELETE on them (SQLite and PostgreSQL alike).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ID = 128
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
AUDIT_TABLES = ("decision_log", "action_log", "approval_log", "outcome_log")


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every backend (SQLite stores it naive, read back as UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use an aware (UTC) time")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {type(value).__name__}")
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


# ---------------------------------------------------------------- network (contract section 1)


class MetaRow(Base):
    """Key/value facts about the loaded network (`as_of`, when it was loaded)."""

    __tablename__ = "network_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class SkuRow(Base):
    __tablename__ = "skus"

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    pos: Mapped[int] = mapped_column(Integer)
    weight_kg: Mapped[float] = mapped_column(Double)
    hazmat: Mapped[bool] = mapped_column(Boolean)
    unit_cost: Mapped[float] = mapped_column(Double)


class NodeRow(Base):
    __tablename__ = "nodes"

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    pos: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    region: Mapped[str] = mapped_column(String(ID), index=True)
    lat: Mapped[float] = mapped_column(Double)
    lon: Mapped[float] = mapped_column(Double)
    status: Mapped[str] = mapped_column(String(16))
    channels: Mapped[list[str]] = mapped_column(JSON)
    capacity_units_per_day: Mapped[int] = mapped_column(Integer)
    backlog_units: Mapped[int] = mapped_column(Integer)
    handling_cost_per_order: Mapped[float] = mapped_column(Double)
    processing_days: Mapped[float] = mapped_column(Double)
    cutoff_hour_utc: Mapped[int] = mapped_column(Integer)
    inventory_accuracy: Mapped[float] = mapped_column(Double)

    __table_args__ = (CheckConstraint("backlog_units >= 0", name="backlog_non_negative"),)


class InventoryRow(Base):
    __tablename__ = "inventory"

    node: Mapped[str] = mapped_column(
        String(ID), ForeignKey("nodes.id", ondelete="CASCADE"), primary_key=True
    )
    sku: Mapped[str] = mapped_column(
        String(ID), ForeignKey("skus.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    pos: Mapped[int] = mapped_column(Integer)
    on_hand: Mapped[int] = mapped_column(Integer)
    reserved: Mapped[int] = mapped_column(Integer)
    safety_stock: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        CheckConstraint("on_hand >= 0", name="on_hand_non_negative"),
        CheckConstraint("reserved >= 0 AND reserved <= on_hand", name="reserved_within_on_hand"),
        CheckConstraint("safety_stock >= 0", name="safety_stock_non_negative"),
    )


class CarrierRow(Base):
    __tablename__ = "carriers"

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    pos: Mapped[int] = mapped_column(Integer)
    regions: Mapped[list[str]] = mapped_column(JSON)
    on_time_rate: Mapped[float] = mapped_column(Double)
    disrupted_regions: Mapped[list[str]] = mapped_column(JSON)


class CarrierServiceRow(Base):
    __tablename__ = "carrier_services"

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    carrier: Mapped[str] = mapped_column(
        String(ID), ForeignKey("carriers.id", ondelete="CASCADE"), index=True
    )
    pos: Mapped[int] = mapped_column(Integer)
    level: Mapped[str] = mapped_column(String(16))
    mode: Mapped[str] = mapped_column(String(16))
    base_rate: Mapped[float] = mapped_column(Double)
    rate_per_kg: Mapped[float] = mapped_column(Double)
    rate_per_100km: Mapped[float] = mapped_column(Double)
    transit_days_base: Mapped[float] = mapped_column(Double)
    transit_days_per_1000km: Mapped[float] = mapped_column(Double)
    max_weight_kg: Mapped[float] = mapped_column(Double)
    max_distance_km: Mapped[float | None] = mapped_column(Double, nullable=True)


class OrderRow(Base):
    __tablename__ = "orders"

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    pos: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(16))
    customer_tier: Mapped[str] = mapped_column(String(16))
    ship_lat: Mapped[float] = mapped_column(Double)
    ship_lon: Mapped[float] = mapped_column(Double)
    ship_region: Mapped[str] = mapped_column(String(ID), index=True)
    ship_postal_code: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[str] = mapped_column(String(40))
    promised_by: Mapped[str] = mapped_column(String(40))
    alloc_node: Mapped[str | None] = mapped_column(
        String(ID), ForeignKey("nodes.id"), nullable=True, index=True
    )
    alloc_service: Mapped[str | None] = mapped_column(
        String(ID), ForeignKey("carrier_services.id"), nullable=True, index=True
    )
    status: Mapped[str] = mapped_column(String(16), index=True)


class OrderLineRow(Base):
    __tablename__ = "order_lines"

    order_id: Mapped[str] = mapped_column(
        String(ID), ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True
    )
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku: Mapped[str] = mapped_column(String(ID), ForeignKey("skus.id"), index=True)
    qty: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[float] = mapped_column(Double)

    __table_args__ = (CheckConstraint("qty > 0", name="qty_positive"),)


# ---------------------------------------------------------------- idempotent effects


class EffectRow(Base):
    """The idempotency ledger: one row per applied effect key, with what it changed."""

    __tablename__ = "effects"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ReservationRow(Base):
    __tablename__ = "reservations"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    node: Mapped[str] = mapped_column(String(ID))
    sku: Mapped[str] = mapped_column(String(ID))
    qty: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    released_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)

    __table_args__ = (
        CheckConstraint("qty > 0", name="qty_positive"),
        CheckConstraint("state IN ('held', 'released')", name="state_known"),
        Index("ix_reservations_node_sku", "node", "sku"),
    )


class BookingRow(Base):
    __tablename__ = "bookings"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    booking_id: Mapped[str] = mapped_column(String(ID), unique=True)
    carrier: Mapped[str] = mapped_column(String(ID))
    carrier_service: Mapped[str] = mapped_column(String(ID))
    order_id: Mapped[str] = mapped_column(String(ID), index=True)
    state: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    cancel_key: Mapped[str | None] = mapped_column(String(255), nullable=True)

    __table_args__ = (CheckConstraint("state IN ('booked', 'cancelled')", name="state_known"),)


# ---------------------------------------------------------------- learning


class LaneReliabilityRow(Base):
    """Beta posterior of a carrier's on-time rate into a region."""

    __tablename__ = "lane_reliability"

    carrier: Mapped[str] = mapped_column(String(ID), primary_key=True)
    region: Mapped[str] = mapped_column(String(ID), primary_key=True)
    alpha: Mapped[float] = mapped_column(Double)
    beta: Mapped[float] = mapped_column(Double)
    observations: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class NodeAccuracyRow(Base):
    """Beta posterior of the probability that a unit on record at a node is really pickable."""

    __tablename__ = "node_accuracy"

    node: Mapped[str] = mapped_column(String(ID), primary_key=True)
    alpha: Mapped[float] = mapped_column(Double)
    beta: Mapped[float] = mapped_column(Double)
    observations: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


# ---------------------------------------------------------------- change counters

# The network tables whose changes readers may cache across (`tools.store.view_cache`).
WATCHED_TABLES = (
    "network_meta",
    "skus",
    "nodes",
    "inventory",
    "carriers",
    "carrier_services",
    "orders",
    "order_lines",
    "lane_reliability",
    "node_accuracy",
)


class ChangeCounterRow(Base):
    """How often each watched network table has changed. On SQLite, triggers installed by the
    migration bump a table's row in the same transaction as any insert, update or delete of
    it (by any process, any tool), so a reader that sees the same counters sees the same
    rows. PostgreSQL has the table but no triggers (a hot counter row would serialise
    writers); readers there never cache."""

    __tablename__ = "change_counters"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)


# ---------------------------------------------------------------- exceptions, approvals, outbox


class ExceptionRow(Base):
    __tablename__ = "exceptions"

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    event: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    decision: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(ID), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_exceptions_status_received", "status", "received_at"),)


class ApprovalRow(Base):
    __tablename__ = "approvals"

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    exception_id: Mapped[str] = mapped_column(String(ID), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    reasons: Mapped[list[str]] = mapped_column(JSON)
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(255), nullable=True)
    channel: Mapped[str | None] = mapped_column(String(32), nullable=True)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'approved', 'rejected', 'superseded')", name="status_known"
        ),
    )


class OutboxRow(Base):
    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sent', 'failed')", name="status_known"),
        Index("ix_outbox_status_next", "status", "next_attempt_at"),
    )


# ---------------------------------------------------------------- append-only audit


class DecisionLogRow(Base):
    __tablename__ = "decision_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    exception_id: Mapped[str] = mapped_column(String(ID), index=True)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)


class ActionLogRow(Base):
    __tablename__ = "action_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    exception_id: Mapped[str] = mapped_column(String(ID), index=True)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    step: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(32))
    nodes: Mapped[list[str]] = mapped_column(JSON)
    autonomous: Mapped[bool] = mapped_column(Boolean)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


class NodeActionRow(Base):
    """One node an autonomous, applied action sent work to (an action to two nodes: two
    rows), kept beside `action_log` so the per-node rate limit is a count in SQL, not a
    scan of the log's JSON."""

    __tablename__ = "node_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    exception_id: Mapped[str] = mapped_column(String(ID))
    key: Mapped[str] = mapped_column(String(255))
    node: Mapped[str] = mapped_column(String(ID))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class ApprovalLogRow(Base):
    __tablename__ = "approval_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    approval_id: Mapped[str] = mapped_column(String(ID), index=True)
    exception_id: Mapped[str] = mapped_column(String(ID), index=True)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    event: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str | None] = mapped_column(String(255), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


class OutcomeLogRow(Base):
    __tablename__ = "outcome_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(String(ID), index=True)
    exception_id: Mapped[str | None] = mapped_column(String(ID), nullable=True, index=True)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)


class ChatLogRow(Base):
    """The chat assistant's log (append-only like the audit tables; revision 0002)."""

    __tablename__ = "chat_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(String(255), index=True)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(255), index=True)
    role: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))  # message | tool_call | answer
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)


metadata = Base.metadata


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


META = _table(MetaRow)
SKUS = _table(SkuRow)
NODES = _table(NodeRow)
INVENTORY = _table(InventoryRow)
CARRIERS = _table(CarrierRow)
SERVICES = _table(CarrierServiceRow)
ORDERS = _table(OrderRow)
ORDER_LINES = _table(OrderLineRow)
EFFECTS = _table(EffectRow)
RESERVATIONS = _table(ReservationRow)
BOOKINGS = _table(BookingRow)
LANE_RELIABILITY = _table(LaneReliabilityRow)
NODE_ACCURACY = _table(NodeAccuracyRow)
EXCEPTIONS = _table(ExceptionRow)
APPROVALS = _table(ApprovalRow)
OUTBOX = _table(OutboxRow)
DECISION_LOG = _table(DecisionLogRow)
ACTION_LOG = _table(ActionLogRow)
APPROVAL_LOG = _table(ApprovalLogRow)
OUTCOME_LOG = _table(OutcomeLogRow)
CHAT_LOG = _table(ChatLogRow)
CHANGE_COUNTERS = _table(ChangeCounterRow)
NODE_ACTIONS = _table(NodeActionRow)
