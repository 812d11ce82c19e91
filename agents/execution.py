"""Executing a plan: reserve -> book -> release -> re-promise -> notify, with compensation.

Every operation carries an idempotency key derived from the exception, the attempt, the
action's position and the step, so re-running after a crash repeats nothing: a reservation or
booking already made is returned, not made again. The fallible steps (reserve: stock may have
moved; book: a carrier may refuse or time out) come first; if one fails, the ones done so far
are undone in reverse order. The commit steps after them (release the old hold, move the
allocation, re-promise, notify) are store writes, each idempotent by key: if the database
fails there, the run stops and a resume finishes them rather than undoing anything.

Within the commit stage the old node's hold is released *before* the order is moved, so a
resume after a crash in between still knows (from the store) where the order was.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from agents.state import Execution, StepRecord, StepStatus
from tools.booking import Booking, BookingError, BookingRequest, CarrierAdapter
from tools.decisions import Action, ActionLine, ActionType, Candidate
from tools.inventory import InsufficientStock, release, reserve
from tools.network import Allocation, Order, OrderStatus
from tools.promise import ready_at
from tools.store import ActionNote, KeyConflict, Store
from tools.store.engine import is_lock_conflict
from tools.view import NetworkView

log = logging.getLogger(__name__)

# A retryable booking failure (timeout, 5xx) is retried under the same key this many times
# in all; the carrier sees one booking at most.
BOOKING_ATTEMPTS = 3
# A batch of store writes that lost a lock race (deadlock) runs again, at most this often.
UNIT_ATTEMPTS = 3
STAGES = ("reserve", "book", "release", "repromise", "notify")
FALLIBLE = frozenset({"reserve", "book"})


class StepFailure(Exception):
    def __init__(self, message: str, *, service: str | None = None) -> None:
        super().__init__(message)
        self.service = service


@dataclass
class Operation:
    stage: str
    key: str
    label: str
    run: Callable[[], str]
    undo: Callable[[], None] | None = None


@dataclass
class Plan:
    operations: list[Operation] = field(default_factory=list)

    def add(
        self,
        stage: str,
        key: str,
        label: str,
        run: Callable[[], str],
        undo: Callable[[], None] | None = None,
    ) -> None:
        self.operations.append(Operation(stage, key, label, run, undo))

    def ordered(self) -> list[Operation]:
        return sorted(self.operations, key=lambda op: STAGES.index(op.stage))


def order_lines(order: Order) -> list[ActionLine]:
    return [ActionLine(sku=line.sku, qty=line.qty) for line in order.lines]


class PlanBuilder:
    """Turns a candidate's actions into keyed operations against the store and a carrier."""

    def __init__(
        self,
        store: Store,
        carrier: CarrierAdapter,
        view: NetworkView,
        exception_id: str,
        attempt: int,
        release_at: datetime,
        orders: Mapping[str, Order] | None = None,
    ) -> None:
        self.release_at = release_at
        # The orders as they were before this attempt's commit steps (see `execute`).
        self.orders: Mapping[str, Order] = orders if orders is not None else view.orders
        self.store = store
        self.carrier = carrier
        self.view = view
        self.prefix = f"{exception_id}:{attempt}"
        self.plan = Plan()
        self.bookings: dict[str, Booking] = {}

    def key(self, index: int, *parts: str) -> str:
        return ":".join((self.prefix, str(index), *parts))

    # -- fallible steps -------------------------------------------------------------------
    def reserve_lines(self, index: int, node: str, lines: list[ActionLine], tag: str) -> None:
        for line in lines:
            key = self.key(index, "reserve", tag, node, line.sku)

            def run(key: str = key, line: ActionLine = line) -> str:
                try:
                    reserve(self.store, key, node, line.sku, line.qty)
                except InsufficientStock as exc:
                    raise StepFailure(str(exc)) from exc
                return f"reserved {line.qty} x {line.sku} at {node}"

            def undo(key: str = key) -> None:
                release(self.store, key)

            self.plan.add("reserve", key, f"reserve {line.sku} at {node}", run, undo)

    def transfer(self, index: int, action: Action) -> None:
        source, target = action.from_node, action.node
        assert source is not None and target is not None
        for line in action.lines:
            key = self.key(index, "transfer", source, target, line.sku)

            def run(key: str = key, line: ActionLine = line) -> str:
                try:
                    self.store.transfer_inventory(source, target, line.sku, line.qty, key)
                except InsufficientStock as exc:
                    raise StepFailure(str(exc)) from exc
                return f"transferred {line.qty} x {line.sku} {source}->{target}"

            def undo(key: str = key, line: ActionLine = line) -> None:
                self.store.transfer_inventory(target, source, line.sku, line.qty, key + ":undo")

            self.plan.add("reserve", key, f"transfer {line.sku} {source}->{target}", run, undo)

    def book(
        self, index: int, order: Order, node: str, service: str, lines: list[ActionLine]
    ) -> None:
        key = self.key(index, "book", node, service)
        found = self.view.services.get(service)
        if found is None:
            raise StepFailure(f"unknown carrier service {service}", service=service)
        carrier, _ = found
        weight = self.view.lines_weight_kg((line.sku, line.qty) for line in lines)
        ready = (
            ready_at(self.view.nodes[node], self.release_at) if node in self.view.nodes else None
        )
        request = BookingRequest(
            ready_at=ready or self.release_at,
            idempotency_key=key,
            order=order.id,
            carrier=carrier.id,
            carrier_service=service,
            node=node,
            ship_to=order.ship_to,
            weight_kg=weight,
            lines=lines,
        )

        def run() -> str:
            pinned = self.pinned_request(request)
            for attempt in range(1, BOOKING_ATTEMPTS + 1):
                try:
                    booking = self.carrier.book(pinned)
                    break
                except BookingError as exc:
                    if exc.retryable and attempt < BOOKING_ATTEMPTS:
                        log.info("retrying booking %s after: %s", key, exc)
                        continue
                    raise StepFailure(f"booking {service} failed: {exc}", service=service) from exc
            self.bookings[key] = booking
            return f"booked {service} from {node} ({booking.booking_id})"

        def undo() -> None:
            booking = self.bookings.get(key)
            if booking is not None:
                self.carrier.cancel(booking, key + ":undo")

        self.plan.add("book", key, f"book {service} for {order.id}", run, undo)

    def pinned_request(self, request: BookingRequest) -> BookingRequest:
        """The request first sent under this booking's key. A resumed run rebuilds its
        request from a fresh view, where its own commit steps may already have moved the
        node's backlog (so `ready_at`): the carrier would refuse the key for "another
        request", and the first booking could not be cancelled. So the first request is
        recorded before it is sent, and any later attempt sends exactly that one."""
        pin = f"{request.idempotency_key}:request"
        try:
            if self.store.mark_effect(pin, "booking_request", request.model_dump(mode="json")):
                return request
        except KeyConflict:
            pass  # recorded before, with the first (other) request: send that one
        stored = self.store.marked(pin)
        assert stored is not None
        return BookingRequest.model_validate(stored)

    # -- commit steps ---------------------------------------------------------------------
    def release_old(self, index: int, order: Order, lines: list[ActionLine]) -> None:
        """Free what the order held at its current node, and its place in that node's queue."""
        if order.allocation is None:
            return
        old = order.allocation.node
        for line in lines:
            if (old, line.sku) not in self.view.inventory:
                continue  # no stock record there: nothing was held
            key = self.key(index, "release", old, line.sku)
            self.plan.add(
                "release",
                key,
                f"release hold {line.sku} at {old}",
                partial(self._release_hold, old, line, key),
            )
        if order.status is OrderStatus.RELEASED:
            units = sum(line.qty for line in lines)
            key = self.key(index, "backlog", old)
            self.plan.add(
                "release",
                key,
                f"remove {units} units from {old}'s queue",
                partial(self._backlog, old, -units, key),
            )

    def _release_hold(self, node: str, line: ActionLine, key: str) -> str:
        effect = self.store.release_hold(node, line.sku, line.qty, key)
        freed = effect.after.get("released", line.qty)
        return f"freed {freed} x {line.sku} at {node}"

    def _backlog(self, node: str, units: int, key: str) -> str:
        self.store.add_backlog(node, units, key)
        return f"{node} backlog {units:+d}"

    def move(self, index: int, order: Order, node: str, service: str, units: int) -> None:
        backlog_key = self.key(index, "backlog", node, "add")
        self.plan.add(
            "release",
            backlog_key,
            f"queue {units} units at {node}",
            lambda: self._backlog(node, units, backlog_key),
        )
        key = self.key(index, "allocate", node, service)
        allocation = Allocation(node=node, carrier_service=service)

        def run() -> str:
            self.store.reassign_order(order.id, allocation, OrderStatus.ALLOCATED, key)
            return f"{order.id} allocated to {node} / {service}"

        self.plan.add("release", key, f"allocate {order.id} to {node}", run)

    # -- one action -----------------------------------------------------------------------
    def add_action(self, index: int, action: Action) -> None:
        kind = action.type
        order = self.orders.get(action.order or "")
        if kind is ActionType.NOTIFY_CUSTOMER:
            self.notify(index, action)
            return
        if kind is ActionType.HOLD or order is None:
            return
        if kind is ActionType.REALLOCATE:
            assert action.node and action.carrier_service
            lines = action.lines or order_lines(order)
            self.reserve_lines(index, action.node, lines, "ship")
            self.book(index, order, action.node, action.carrier_service, lines)
            self.release_old(index, order, order_lines(order))
            self.move(index, order, action.node, action.carrier_service, sum(x.qty for x in lines))
        elif kind is ActionType.SPLIT:
            legs = action.legs or []
            for leg_no, leg in enumerate(legs):
                self.reserve_lines(index, leg.node, leg.lines, f"leg{leg_no}")
                self.book(index, order, leg.node, leg.carrier_service, leg.lines)
            self.release_old(index, order, order_lines(order))
            for leg in legs:
                units = sum(x.qty for x in leg.lines)
                self._queue(index, leg.node, units)
            primary = max(legs, key=lambda leg: (sum(x.qty for x in leg.lines), leg.node))
            key = self.key(index, "allocate", "split", primary.node)
            allocation = Allocation(node=primary.node, carrier_service=primary.carrier_service)
            self.plan.add(
                "release",
                key,
                f"allocate {order.id} (split, primary {primary.node})",
                lambda: self._allocate(order.id, allocation, key),
            )
        elif kind in (ActionType.UPGRADE_SERVICE, ActionType.BOOK_CARRIER):
            node = action.node or (order.allocation.node if order.allocation else None)
            assert node and action.carrier_service
            lines = action.lines or order_lines(order)
            self.book(index, order, node, action.carrier_service, lines)
            key = self.key(index, "allocate", node, action.carrier_service)
            allocation = Allocation(node=node, carrier_service=action.carrier_service)
            self.plan.add(
                "release",
                key,
                f"switch {order.id} to {action.carrier_service}",
                lambda: self._allocate(order.id, allocation, key),
            )
        elif kind is ActionType.TRANSFER_INVENTORY:
            assert action.node and action.carrier_service and action.from_node
            self.transfer(index, action)
            lines = action.lines or order_lines(order)
            self.reserve_lines(index, action.node, lines, "ship")
            self.book(index, order, action.node, action.carrier_service, lines)
            if order.allocation is not None and order.allocation.node != action.node:
                self.release_old(index, order, order_lines(order))
            self.move(index, order, action.node, action.carrier_service, sum(x.qty for x in lines))
        elif kind is ActionType.BACKORDER:
            self.release_old(index, order, order_lines(order))
            key = self.key(index, "backorder")
            self.plan.add(
                "release",
                key,
                f"backorder {order.id}",
                lambda: self._status(order.id, None, OrderStatus.BACKORDERED, key),
            )
            self.repromise(index, action)
        elif kind is ActionType.CANCEL_LINES:
            lines = action.lines or order_lines(order)
            self.release_old(index, order, lines)
            key = self.key(index, "cancel")

            def run() -> str:
                self.store.cancel_order_lines(order.id, lines, key)
                return f"cancelled {sum(x.qty for x in lines)} units of {order.id}"

            self.plan.add("release", key, f"cancel lines of {order.id}", run)
        elif kind is ActionType.REPROMISE:
            self.repromise(index, action)

    def _queue(self, index: int, node: str, units: int) -> None:
        key = self.key(index, "backlog", node, "add")
        self.plan.add(
            "release",
            key,
            f"queue {units} units at {node}",
            lambda: self._backlog(node, units, key),
        )

    def _allocate(self, order_id: str, allocation: Allocation, key: str) -> str:
        self.store.reassign_order(order_id, allocation, OrderStatus.ALLOCATED, key)
        return f"{order_id} allocated to {allocation.node} / {allocation.carrier_service}"

    def _status(
        self, order_id: str, allocation: Allocation | None, status: OrderStatus, key: str
    ) -> str:
        self.store.reassign_order(order_id, allocation, status, key)
        return f"{order_id} is {status.value}"

    def repromise(self, index: int, action: Action) -> None:
        if action.promised_by is None or action.order is None:
            return
        key = self.key(index, "repromise")
        order_id, promised_by = action.order, action.promised_by

        def run() -> str:
            self.store.repromise_order(order_id, promised_by, key)
            return f"{order_id} re-promised for {promised_by.isoformat()}"

        self.plan.add("repromise", key, f"re-promise {order_id}", run)

    def notify(self, index: int, action: Action) -> None:
        key = self.key(index, "notify")
        payload = {
            "order": action.order,
            "message": action.message or "",
            "promised_by": action.promised_by.isoformat() if action.promised_by else None,
        }

        def run() -> str:
            self.store.enqueue_outbox("customer_notification", payload, key=key)
            return f"customer of {action.order} notified (outbox)"

        self.plan.add("notify", key, f"notify customer of {action.order}", run)


@dataclass
class CommitMarker:
    """The run's commit marker: written with the first commit step, holding the orders as
    they were before any commit step; `begun` once it is in the store."""

    key: str
    begun: bool
    candidate: str
    orders: dict[str, Any]


def commit_key(exception_id: str, attempt: int) -> str:
    """The key of an attempt's commit marker (see `execute`)."""
    return f"{exception_id}:{attempt}:commit"


@dataclass
class BeginMark:
    """A milestone to record with the run's first store write (in the same transaction), or
    alone just before it when that first step is a carrier booking (which runs outside any
    transaction)."""

    key: str
    payload: dict[str, Any]
    written: bool = False

    def write(self, store: Store) -> None:
        if not self.written:
            store.mark_effect(self.key, "act_begun", self.payload)
            self.written = True


def execute(
    store: Store,
    carrier: CarrierAdapter,
    view: NetworkView,
    exception_id: str,
    attempt: int,
    candidate: Candidate,
    *,
    release_at: datetime,
    autonomous: bool = True,
    marks: Mapping[str, dict[str, Any]] | None = None,
    begin: tuple[str, dict[str, Any]] | None = None,
) -> Execution:
    """Run the candidate's operations in order; on a fallible failure undo what was done.

    Once every fallible step has succeeded a commit marker is written, holding the orders as
    they were before any commit step. A run resumed after it rebuilds its plan from those
    orders (not from the fresh view, where the order may already sit at its new node: its
    "old" hold would be the new one), re-runs none of the fallible steps (nothing re-run can
    then fail and "compensate" work whose commit steps are in the store) and finishes the
    commit steps, each idempotent by key.

    `marks`: the milestones already read (the commit marker is read here if not given);
    `begin`: a milestone (the act step's "begun") recorded with the first store write."""
    committed = commit_key(exception_id, attempt)
    recorded = marks.get(committed) if marks is not None else store.marked(committed)
    orders: dict[str, Order] = dict(view.orders)
    if recorded is not None:
        orders |= {
            oid: Order.model_validate(data) for oid, data in recorded.get("orders", {}).items()
        }
    builder = PlanBuilder(store, carrier, view, exception_id, attempt, release_at, orders)
    try:
        execution = Execution(attempt=attempt, candidate=candidate.id)
        touched = sorted({o for a in candidate.actions for o in a.touched_orders() if o in orders})
        try:
            for index, action in enumerate(candidate.actions):
                builder.add_action(index, action)
        except StepFailure as exc:
            execution.failure = str(exc)
            if exc.service:
                execution.unbookable_services.append(exc.service)
            return execution
        done: list[Operation] = []
        commit = CommitMarker(committed, recorded is not None, candidate.id, {
            oid: orders[oid].model_dump(mode="json") for oid in touched
        })  # fmt: skip
        groups = batches(builder.plan.ordered())
        first = BeginMark(*begin) if begin is not None else None
        for number, batch in enumerate(groups, start=1):
            for conflicts in range(UNIT_ATTEMPTS):
                sizes = len(done), len(execution.steps), len(execution.unbookable_services)
                begun_before = first.written if first is not None else False
                try:
                    result = _run_batch(
                        store, exception_id, builder, candidate, autonomous, batch, done, execution,
                        commit, first, last=number == len(groups),
                    )  # fmt: skip
                    break
                except Exception as exc:
                    # Several writes in one transaction can deadlock with another decision's
                    # (PostgreSQL aborts one of them): the whole batch was rolled back, so it
                    # runs again, under the same keys, from where it started.
                    if _kind(batch[0]) == "book" or not is_lock_conflict(exc):
                        raise
                    if conflicts == UNIT_ATTEMPTS - 1:
                        raise
                    log.info("batch of %s lost a lock race; running it again", exception_id)
                    del done[sizes[0] :]
                    del execution.steps[sizes[1] :]
                    del execution.unbookable_services[sizes[2] :]
                    execution.failure = None
                    if first is not None:  # written in the lost transaction: write it again
                        first.written = begun_before
            if result is not None:
                return result
        if not groups:
            with store.unit_of_work():
                if first is not None:
                    first.write(store)
                store.append_action_logs(exception_id, applied(builder, candidate, autonomous))
        execution.succeeded = True
        return execution

    finally:
        # The operations are closures over the builder, which holds them in its plan: a
        # reference cycle (with the view and the orders) that would wait for the cyclic
        # collector. Drop the plan so all of it is freed as soon as this returns.
        builder.plan = Plan()


def _run_batch(
    store: Store,
    exception_id: str,
    builder: PlanBuilder,
    candidate: Candidate,
    autonomous: bool,
    batch: list[Operation],
    done: list[Operation],
    execution: Execution,
    commit: CommitMarker,
    first: BeginMark | None,
    *,
    last: bool,
) -> Execution | None:
    """Run one batch (one transaction unless it is a booking); the execution if a fallible
    step failed (what was done is compensated), else None.

    A fallible batch of a run resumed after its commit marker is not re-run. The first commit
    batch writes the marker in its own transaction, so the marker and the commit steps land
    together or not at all."""
    if _kind(batch[0]) != "commit" and commit.begun:
        for op in batch:
            execution.steps.append(
                StepRecord(
                    step=op.stage, key=op.key, status=StepStatus.DONE,
                    detail="done before a restart",
                )
            )  # fmt: skip
        if last:
            store.append_action_logs(exception_id, applied(builder, candidate, autonomous))
        return None
    if first is not None and _kind(batch[0]) == "book":
        first.write(store)  # its own transaction: it must be in the store before the call
    with store.unit_of_work() if _kind(batch[0]) != "book" else nullcontext():
        if first is not None:
            first.write(store)
        if _kind(batch[0]) == "commit" and not commit.begun:
            store.mark_effect(
                commit.key, "commit_begun", {"candidate": commit.candidate, "orders": commit.orders}
            )
        # The batch's audit entries, written in one statement with its last write (or, for a
        # booking, right after the call).
        notes: list[ActionNote] = []
        for op in batch:
            try:
                detail = op.run()
            except StepFailure as exc:
                if op.stage not in FALLIBLE:
                    raise
                execution.steps.append(
                    StepRecord(step=op.stage, key=op.key, status=StepStatus.FAILED, detail=str(exc))
                )
                notes.append(ActionNote(op.stage, op.key, "failed", {"error": str(exc)}))
                store.append_action_logs(exception_id, notes)
                execution.failure = f"{op.label}: {exc}"
                if exc.service:
                    execution.unbookable_services.append(exc.service)
                compensate(store, exception_id, done, execution)
                return execution
            done.append(op)
            execution.steps.append(
                StepRecord(step=op.stage, key=op.key, status=StepStatus.DONE, detail=detail)
            )
            notes.append(ActionNote(op.stage, op.key, "done", {"detail": detail}))
        if last:  # the audit entries commit with the last writes
            notes.extend(applied(builder, candidate, autonomous))
        store.append_action_logs(exception_id, notes)
    if _kind(batch[0]) == "commit":
        commit.begun = True
    return None


def batches(operations: list[Operation]) -> list[list[Operation]]:
    """Consecutive operations grouped for one transaction each: the store-only steps of a
    stage run together (reservations in one, the commit steps in one), each carrier booking
    alone and outside any transaction (a remote carrier must not hold the store's lock)."""
    groups: list[list[Operation]] = []
    for op in operations:
        kind = _kind(op)
        if groups and kind != "book" and _kind(groups[-1][-1]) == kind:
            groups[-1].append(op)
        else:
            groups.append([op])
    return groups


def _kind(op: Operation) -> str:
    return "book" if op.stage == "book" else "reserve" if op.stage in FALLIBLE else "commit"


def applied(builder: PlanBuilder, candidate: Candidate, autonomous: bool) -> list[ActionNote]:
    """One "applied" entry per action, naming the nodes it sends work to: the guardrails'
    rate limit on autonomous actions per node counts these."""
    return [
        ActionNote(
            action.type.value,
            builder.key(index, "applied"),
            "applied",
            {"order": action.order, "orders": action.orders},
            nodes=action.nodes(),
            autonomous=autonomous,
        )
        for index, action in enumerate(candidate.actions)
    ]


def compensate(
    store: Store, exception_id: str, done: list[Operation], execution: Execution
) -> None:
    for op in reversed(done):
        if op.undo is None:
            continue
        op.undo()
        execution.steps.append(
            StepRecord(
                step="compensate",
                key=op.key,
                status=StepStatus.COMPENSATED,
                detail=f"undid {op.label}",
            )
        )
        store.append_action_log(
            exception_id, "compensate", op.key, "compensated", {"detail": f"undid {op.label}"}
        )
