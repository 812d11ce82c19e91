"""The store: the network, idempotent effects, exceptions, approvals, outbox, audit, learning.

SQLite by default (a WAL file under `./.execlayer/`), PostgreSQL by URL; SQLAlchemy 2.0 Core
over the tables of `tools.store.schema`, created by the Alembic migrations in
`tools.store.migrations` (run by `Store.open`). `Store` is a thin, thread-safe facade (one
engine, one connection per call) over small modules, one per concern; everything it returns
is a pydantic model, never an ORM row.

    with Store.open("sqlite:///.execlayer/execlayer.db") as store:
        store.load_snapshot(snapshot)
        view = store.view(["O-1001"])
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from sqlalchemy import Engine

from tools.decisions import ActionLine, Approval, ApprovalStatus, Decision, DecisionStatus, now_utc
from tools.events import ExceptionEvent
from tools.inputs import load_snapshot as read_snapshot_file
from tools.network import (
    ACTIONABLE_ORDER_STATUSES,
    Allocation,
    InventoryPosition,
    NetworkSnapshot,
    Node,
    Order,
    OrderLine,
    OrderStatus,
)
from tools.settings import Settings
from tools.store import (
    approvals,
    audit,
    bookings,
    chat_log,
    decision_commit,
    effects,
    exception_queue,
    learning,
    outbox,
    reader,
    reservations,
    snapshots,
)
from tools.store.engine import is_sqlite, make_engine, read_connection, unit_of_work
from tools.store.errors import (
    InsufficientStock,
    InvalidRequest,
    KeyConflict,
    NoNetwork,
    NotFound,
    StoreError,
)
from tools.store.migrations import migrate
from tools.store.models import (
    ActionLogEntry,
    ActionNote,
    ApprovalLogEntry,
    ApprovalRecord,
    AuditTrail,
    ChatLogEntry,
    DecisionLogEntry,
    EffectResult,
    EntityChanges,
    ExceptionRecord,
    ExceptionStatus,
    LoadReport,
    OutboxItem,
    OutboxStatus,
    OutcomeLogEntry,
    Posterior,
    Reservation,
    ReservationState,
    StoredBooking,
)
from tools.store.view_cache import ViewCache
from tools.view import NetworkView

Clock = Callable[[], datetime]

__all__ = [
    "ActionLogEntry",
    "ActionNote",
    "ApprovalLogEntry",
    "ApprovalRecord",
    "AuditTrail",
    "ChatLogEntry",
    "DecisionLogEntry",
    "EffectResult",
    "EntityChanges",
    "ExceptionRecord",
    "ExceptionStatus",
    "InsufficientStock",
    "InvalidRequest",
    "KeyConflict",
    "LoadReport",
    "NoNetwork",
    "NotFound",
    "OutboxItem",
    "OutboxStatus",
    "OutcomeLogEntry",
    "Posterior",
    "Reservation",
    "ReservationState",
    "Store",
    "StoreError",
    "StoredBooking",
]


class Store:
    """The facade the agents, the API and the evals use. Open with `Store.open(url)`."""

    def __init__(self, engine: Engine, *, clock: Clock = now_utc) -> None:
        self._engine = engine
        self._clock = clock
        # Network reads reuse what did not change (SQLite only: see tools.store.view_cache).
        self._views = ViewCache() if is_sqlite(engine) else None

    # ------------------------------------------------------------ lifecycle

    @classmethod
    def open(
        cls, url: str | None = None, *, clock: Clock | None = None, run_migrations: bool = True
    ) -> Store:
        """Open the store at `url` (None: `Settings().database_url`) and migrate it to head."""
        engine = make_engine(url if url is not None else Settings().database_url)
        try:
            if run_migrations:
                migrate(engine)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, clock=clock or now_utc)

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def backend(self) -> str:
        """`sqlite` or `postgresql`."""
        return self._engine.dialect.name

    @property
    def url(self) -> str:
        """The store's URL with any password hidden."""
        return self._engine.url.render_as_string(hide_password=True)

    def now(self) -> datetime:
        return self._clock()

    def unit_of_work(self) -> AbstractContextManager[object]:
        """Every store call inside runs in ONE write transaction (each effect in a savepoint:
        a failing one leaves nothing behind), committed once at the end, or not at all if the
        block raises. Use it to batch the writes of one decision; keep slow outside calls
        (a remote carrier) out of it."""
        return unit_of_work(self._engine)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------ network snapshot

    def load_snapshot(self, snapshot: NetworkSnapshot) -> LoadReport:
        """Load the snapshot, or refresh the network to it, atomically (one transaction)."""
        return snapshots.load_snapshot(self._engine, snapshot, self.now())

    def load_file(self, path: Path) -> LoadReport:
        """Read, validate and load a snapshot file. A bad file raises `tools.inputs.InputError`
        naming the field, before anything is written."""
        return self.load_snapshot(read_snapshot_file(path))

    def export_snapshot(self) -> NetworkSnapshot:
        """The network as it stands now. Raises `NoNetwork` when nothing was loaded."""
        return snapshots.export_snapshot(self._engine)

    # ------------------------------------------------------------ reader

    def view(self, order_ids: Collection[str] | None = None) -> NetworkView:
        return reader.view(self._engine, order_ids, self._views)

    def orders_in_scope(
        self,
        *,
        node: str | None = None,
        carrier: str | None = None,
        region: str | None = None,
        sku: str | None = None,
        statuses: Iterable[OrderStatus | str] | None = ACTIONABLE_ORDER_STATUSES,
    ) -> list[str]:
        return reader.orders_in_scope(
            self._engine, node=node, carrier=carrier, region=region, sku=sku, statuses=statuses
        )

    def get_order(self, order_id: str) -> Order | None:
        return reader.get_order(self._engine, order_id)

    def has_network(self) -> bool:
        return reader.has_network(self._engine)

    def get_node(self, node_id: str) -> Node | None:
        return reader.get_node(self._engine, node_id)

    def get_position(self, node_id: str, sku_id: str) -> InventoryPosition | None:
        return reader.get_position(self._engine, node_id, sku_id)

    # ------------------------------------------------------------ idempotent effects

    def reassign_order(
        self, order_id: str, allocation: Allocation | None, status: OrderStatus | str, key: str
    ) -> EffectResult:
        return effects.reassign_order(self._engine, order_id, allocation, status, key, self.now())

    def repromise_order(self, order_id: str, promised_by: datetime, key: str) -> EffectResult:
        return effects.repromise_order(self._engine, order_id, promised_by, key, self.now())

    def set_order_status(self, order_id: str, status: OrderStatus | str, key: str) -> EffectResult:
        return effects.set_order_status(self._engine, order_id, status, key, self.now())

    def cancel_order_lines(self, order_id: str, lines: list[ActionLine], key: str) -> EffectResult:
        return effects.cancel_order_lines(self._engine, order_id, lines, key, self.now())

    def restore_order_lines(
        self, order_id: str, lines: list[OrderLine], status: OrderStatus | str, key: str
    ) -> EffectResult:
        return effects.restore_order_lines(self._engine, order_id, lines, status, key, self.now())

    def add_backlog(self, node_id: str, units: int, key: str) -> EffectResult:
        return effects.add_backlog(self._engine, node_id, units, key, self.now())

    def release_hold(self, node_id: str, sku_id: str, qty: int, key: str) -> EffectResult:
        return effects.release_hold(self._engine, node_id, sku_id, qty, key, self.now())

    def hold_stock(self, node_id: str, sku_id: str, qty: int, key: str) -> EffectResult:
        return effects.hold_stock(self._engine, node_id, sku_id, qty, key, self.now())

    def transfer_inventory(
        self, from_node: str, to_node: str, sku_id: str, qty: int, key: str
    ) -> EffectResult:
        return effects.transfer_inventory(
            self._engine, from_node, to_node, sku_id, qty, key, self.now()
        )

    def compensate(self, key: str, new_key: str | None = None) -> EffectResult:
        """Undo the effect applied under `key` (idempotent under `new_key`, default
        `"{key}:undo"`)."""
        return effects.compensate(self._engine, key, new_key or f"{key}:undo", self.now())

    def mark_effect(self, key: str, kind: str, payload: dict[str, Any] | None = None) -> bool:
        """Record a milestone under `key`; True the first time it is recorded."""
        return effects.mark(self._engine, key, kind, payload or {}, self.now())

    def marked(self, key: str) -> dict[str, Any] | None:
        """The payload recorded by `mark_effect(key, ...)`, or None if nothing was."""
        return effects.marked(self._engine, key)

    def marked_many(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        """`marked` for several keys at once (one read): the ones recorded, with payloads."""
        return effects.marked_many(self._engine, keys)

    def effect_applied(self, key: str) -> bool:
        """Whether anything (effect, reservation, booking) was applied under `key`."""
        return effects.effect_applied(self._engine, key)

    # ------------------------------------------------------------ reservations

    def reserve(
        self, key: str, node: str, sku: str, qty: int, *, allow_safety_stock: bool = False
    ) -> Reservation:
        return reservations.reserve(
            self._engine, key, node, sku, qty, self.now(), allow_safety_stock=allow_safety_stock
        )

    def release(self, key: str) -> Reservation:
        return reservations.release(self._engine, key, self.now())

    def get_reservation(self, key: str) -> Reservation | None:
        return reservations.get_reservation(self._engine, key)

    def held_reservations(
        self, node: str | None = None, sku: str | None = None
    ) -> list[Reservation]:
        return reservations.held_reservations(self._engine, node, sku)

    # ------------------------------------------------------------ bookings (simulated carrier)

    def record_booking(
        self,
        key: str,
        booking_id: str,
        carrier: str,
        carrier_service: str,
        order_id: str,
        payload: dict[str, Any],
    ) -> tuple[StoredBooking, bool]:
        return bookings.record_booking(
            self._engine, key, booking_id, carrier, carrier_service, order_id, payload, self.now()
        )

    def get_booking(self, key: str) -> StoredBooking | None:
        return bookings.get_booking(self._engine, key)

    def cancel_booking(self, key: str, cancel_key: str) -> StoredBooking:
        return bookings.cancel_booking(self._engine, key, cancel_key, self.now())

    def bookings_for_order(self, order_id: str) -> list[StoredBooking]:
        return bookings.bookings_for_order(self._engine, order_id)

    # ------------------------------------------------------------ exceptions

    def register_exception(
        self,
        event: ExceptionEvent,
        status: ExceptionStatus | str = ExceptionStatus.QUEUED,
        claimed_by: str | None = None,
    ) -> tuple[ExceptionRecord, bool]:
        return exception_queue.register_exception(
            self._engine, event, self.now(), status, claimed_by
        )

    def take_over_exception(
        self, exception_id: str, worker_id: str, stale_before: datetime
    ) -> bool:
        """Claim a `processing` exception whose resolver stopped renewing before
        `stale_before`; exactly one racing claimant wins."""
        return exception_queue.take_over(
            self._engine, exception_id, worker_id, stale_before, self.now()
        )

    def get_exception(self, exception_id: str) -> ExceptionRecord | None:
        return exception_queue.get_exception(self._engine, exception_id)

    def save_decision(
        self,
        exception_id: str,
        decision: Decision,
        status: ExceptionStatus | DecisionStatus | str | None = None,
    ) -> ExceptionRecord:
        return exception_queue.save_decision(
            self._engine, exception_id, decision, status, self.now()
        )

    def record_decision(
        self,
        exception_id: str,
        decision: Decision,
        log_payload: dict[str, Any],
        messages: Sequence[tuple[str, dict[str, Any], str]] = (),
        *,
        decision_json: dict[str, Any] | None = None,
    ) -> None:
        """File a decision atomically: the exception's decision and status, its decision-log
        row and its outbox messages `(kind, payload, key)` (insert-if-absent by key).
        `decision_json`: `decision.model_dump(mode="json")` if the caller already made it."""
        decision_commit.record_decision(
            self._engine, exception_id, decision, log_payload, messages, self.now(), decision_json
        )

    def set_exception_status(
        self, exception_id: str, status: ExceptionStatus | str
    ) -> ExceptionRecord:
        return exception_queue.set_exception_status(self._engine, exception_id, status, self.now())

    def list_exceptions(
        self, status: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[ExceptionRecord]:
        return exception_queue.list_exceptions(self._engine, status, limit, offset)

    def claim_next_exception(self, worker_id: str) -> ExceptionRecord | None:
        return exception_queue.claim_next_exception(self._engine, worker_id, self.now())

    def requeue_stale_claims(self, claimed_before: datetime) -> list[str]:
        return exception_queue.requeue_stale_claims(self._engine, claimed_before, self.now())

    # ------------------------------------------------------------ approvals

    def create_approval(self, approval: Approval, exception_id: str) -> tuple[ApprovalRecord, bool]:
        return approvals.create_approval(self._engine, approval, exception_id, self.now())

    def decide_approval(
        self,
        approval_id: str,
        status: ApprovalStatus | str,
        decided_by: str | None,
        channel: str | None,
        comment: str | None = None,
    ) -> bool:
        return approvals.decide_approval(
            self._engine, approval_id, status, decided_by, channel, comment, self.now()
        )

    def get_approval(self, approval_id: str) -> ApprovalRecord | None:
        return approvals.get_approval(self._engine, approval_id)

    def list_approvals(
        self, status: ApprovalStatus | str | None = None, exception_id: str | None = None
    ) -> list[ApprovalRecord]:
        return approvals.list_approvals(self._engine, status, exception_id)

    # ------------------------------------------------------------ outbox

    def enqueue_outbox(
        self,
        kind: str,
        payload: dict[str, Any],
        key: str,
        not_before: datetime | None = None,
    ) -> int:
        return outbox.enqueue_outbox(self._engine, kind, payload, key, self.now(), not_before)

    def due_outbox(self, limit: int = 50, now: datetime | None = None) -> list[OutboxItem]:
        return outbox.due_outbox(self._engine, limit, now or self.now())

    def claim_outbox(
        self, limit: int = 50, lease: timedelta = timedelta(minutes=2)
    ) -> list[OutboxItem]:
        return outbox.claim_outbox(self._engine, limit, self.now(), lease)

    def get_outbox(self, item_id: int) -> OutboxItem | None:
        return outbox.get_outbox(self._engine, item_id)

    def mark_outbox_sent(self, item_id: int) -> None:
        outbox.mark_outbox_sent(self._engine, item_id, self.now())

    def mark_outbox_failed(self, item_id: int, error: str, retry_at: datetime | None) -> None:
        outbox.mark_outbox_failed(self._engine, item_id, error, retry_at)

    # ------------------------------------------------------------ audit (append-only)

    def append_decision_log(self, exception_id: str, payload: dict[str, Any]) -> int:
        return audit.append_decision_log(self._engine, exception_id, payload, self.now())

    def append_action_logs(self, exception_id: str, notes: Sequence[ActionNote]) -> None:
        """`append_action_log` for several steps at once (one statement), in order."""
        audit.append_action_logs(self._engine, exception_id, notes, self.now())

    def append_action_log(
        self,
        exception_id: str,
        step: str,
        key: str,
        status: str,
        detail: dict[str, Any] | None = None,
        *,
        nodes: Sequence[str] = (),
        autonomous: bool = True,
    ) -> int:
        return audit.append_action_log(
            self._engine,
            exception_id,
            step,
            key,
            status,
            detail or {},
            self.now(),
            nodes=nodes,
            autonomous=autonomous,
        )

    def append_approval_log(
        self,
        approval_id: str,
        exception_id: str,
        event: str,
        actor: str | None,
        detail: dict[str, Any] | None = None,
    ) -> int:
        return audit.append_approval_log(
            self._engine, approval_id, exception_id, event, actor, detail or {}, self.now()
        )

    def append_outcome_log(
        self, order_id: str, exception_id: str | None, payload: dict[str, Any]
    ) -> int:
        return audit.append_outcome_log(self._engine, order_id, exception_id, payload, self.now())

    def audit_trail(self, exception_id: str) -> AuditTrail:
        return audit.audit_trail(self._engine, exception_id)

    def append_chat_log(
        self,
        session_id: str,
        actor: str,
        role: str,
        channel: str,
        kind: str,
        payload: dict[str, Any],
    ) -> int:
        """One line of the chat assistant's log (append-only)."""
        return chat_log.append_chat_log(
            self._engine, session_id, actor, role, channel, kind, payload, self.now()
        )

    def chat_log(
        self, session_id: str | None = None, actor: str | None = None, limit: int = 500
    ) -> list[ChatLogEntry]:
        return chat_log.chat_log(self._engine, session_id, actor, limit)

    def outcomes_for_order(self, order_id: str) -> list[OutcomeLogEntry]:
        return audit.outcomes_for_order(self._engine, order_id)

    def recent_actions_by_node(self, since: datetime) -> dict[str, int]:
        return audit.recent_actions_by_node(self._engine, since)

    # ------------------------------------------------------------ learning

    def record_delivery(self, carrier: str, region: str, on_time: bool, key: str) -> Posterior:
        return learning.record_delivery(self._engine, carrier, region, on_time, key, self.now())

    def record_pick(self, node: str, expected_units: int, picked_units: int, key: str) -> Posterior:
        return learning.record_pick(
            self._engine, node, expected_units, picked_units, key, self.now()
        )

    def reliability_posteriors(self) -> dict[str, float]:
        with read_connection(self._engine) as conn:
            return learning.reliability_posteriors(conn)

    def accuracy_posteriors(self) -> dict[str, float]:
        with read_connection(self._engine) as conn:
            return learning.accuracy_posteriors(conn)
