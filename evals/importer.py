"""Import a typical OMS export (orders, exceptions, what people did, how it ended) as replay
cases (contract section 5) with a `history` block, so users can replay their own past.

Inputs (CSV with a header row, or JSONL objects; see docs/importing-history.md):

- orders:     one row per order LINE (order id repeated), with the allocation at the time;
- exceptions: one row per exception (type, time, order refs separated by `;`, scope, text);
- actions:    what people did per exception (type, node, carrier service, cost, who); optional;
- outcomes:   how each order ended (on_time / late / cancelled, days late); optional;
- a network snapshot JSON (contract section 1) for nodes, carriers, SKUs and inventory.

A small mapping file (YAML or JSON) renames columns, names the files, translates values
("Short Pick" -> short_pick) and sets the time zone of naive timestamps. Every bad row is
reported as `file:row: column 'name': what is wrong`, all of them at once, and nothing is
written when there is any.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from evals.cases import History, ReplayCase, Truth, write_cases
from evals.export_format import (
    ACTION_TYPES,
    FIELDS,
    KINDS,
    OUTCOMES,
    Mapping,
    Problems,
    Reader,
    Row,
    check_columns,
    read_rows,
)
from tools.events import EventType, ExceptionEvent
from tools.inputs import InputError, describe, load_snapshot
from tools.network import (
    Allocation,
    Channel,
    CustomerTier,
    NetworkSnapshot,
    Order,
    OrderLine,
    OrderStatus,
    ShipTo,
)
from tools.view import lane_key

FAMILY_OF_TYPE = {
    "short_pick": "stockout",
    "stockout": "stockout",
    "node_overload": "surge",
    "node_outage": "disruption",
    "cutoff_missed": "cutoff",
    "carrier_disruption": "disruption",
    "sla_risk": "sla_risk",
    "partner_rejected": "partner",
    "booking_failed": "booking",
    "unstructured": "unstructured",
}
# Lanes with at least this many outcomes in the export get an empirical on-time truth.
MIN_LANE_OUTCOMES = 3


@dataclass
class ExportFiles:
    network: Path
    orders: Path
    exceptions: Path
    actions: Path | None = None
    outcomes: Path | None = None

    @classmethod
    def in_folder(cls, folder: Path, mapping: Mapping, **given: Path | None) -> ExportFiles:
        """The export's files: given ones, else the mapping's names, else `orders.csv` /
        `orders.jsonl` ... in `folder`; actions and outcomes may be absent."""

        def find(kind: str) -> Path | None:
            if given.get(kind) is not None:
                return given[kind]
            if kind in mapping.files:
                return folder / mapping.files[kind]
            for suffix in (".csv", ".jsonl"):
                if (folder / f"{kind}{suffix}").exists():
                    return folder / f"{kind}{suffix}"
            return None

        network = given.get("network") or folder / "network.json"
        orders, exceptions = find("orders"), find("exceptions")
        missing = [k for k, p in (("orders", orders), ("exceptions", exceptions)) if p is None]
        if missing:
            raise InputError(
                f"OMS export in {folder}",
                [f"no {k} file ({k}.csv or {k}.jsonl, or name it in the mapping)" for k in missing],
            )
        assert orders is not None and exceptions is not None
        return cls(network, orders, exceptions, find("actions"), find("outcomes"))


@dataclass
class ImportReport:
    cases: list[ReplayCase]
    orders: int
    exceptions: int
    actions: int
    outcomes: int
    by_family: dict[str, int] = field(default_factory=dict)
    with_action: int = 0
    with_outcome: int = 0
    empirical_lanes: dict[str, float] = field(default_factory=dict)


@dataclass
class _OrderRows:
    first: Row
    lines: list[OrderLine] = field(default_factory=list)


def _orders(
    rows: list[Row], mapping: Mapping, problems: Problems, snapshot: NetworkSnapshot
) -> dict[str, Order]:
    r = Reader("orders", mapping, problems)
    skus = {s.id for s in snapshot.skus}
    nodes = {n.id for n in snapshot.nodes}
    services = {s.id for c in snapshot.carriers for s in c.services}
    grouped: dict[str, _OrderRows] = {}
    for row in rows:
        order_id = r.text(row, "order_id")
        sku = r.text(row, "sku")
        qty = r.number(row, "qty", integer=True)
        price = r.number(row, "unit_price")
        if sku is not None and sku not in skus:
            problems.add(row, r.col("sku"), f"unknown sku {sku!r} (not in the network snapshot)")
        if qty is not None and qty <= 0:
            problems.add(row, r.col("qty"), f"quantity must be positive, got {qty:g}")
        if price is not None and price < 0:
            problems.add(row, r.col("unit_price"), f"price must not be negative, got {price:g}")
        if order_id is None:
            continue
        group = grouped.setdefault(order_id, _OrderRows(row))
        if sku is not None and qty is not None and price is not None and qty > 0 and price >= 0:
            group.lines.append(OrderLine(sku=sku, qty=int(qty), unit_price=price))
    orders: dict[str, Order] = {}
    for order_id, group in grouped.items():
        row = group.first
        node = r.text(row, "node")
        service = r.text(row, "carrier_service")
        if node is not None and node not in nodes:
            problems.add(row, r.col("node"), f"unknown node {node!r} (not in the network snapshot)")
        if service is not None and service not in services:
            problems.add(row, r.col("carrier_service"), f"unknown carrier service {service!r}")
        if (node is None) != (service is None):
            problems.add(
                row,
                r.col("node" if node is None else "carrier_service"),
                "an allocation needs both a node and a carrier service",
            )
        channel = r.choice(row, "channel", tuple(c.value for c in Channel)) or "d2c"
        tier = r.choice(row, "customer_tier", tuple(t.value for t in CustomerTier)) or "standard"
        status = r.choice(row, "status", tuple(s.value for s in OrderStatus))
        created, promised = r.moment(row, "created_at"), r.moment(row, "promised_by")
        lat, lon = r.number(row, "ship_lat"), r.number(row, "ship_lon")
        region = r.text(row, "ship_region")
        for name, value, limit in (("ship_lat", lat, 90.0), ("ship_lon", lon, 180.0)):
            if value is not None and abs(value) > limit:
                problems.add(row, r.col(name), f"{value:g} is out of range (+-{limit:g})")
        if created and promised and promised < created:
            problems.add(row, r.col("promised_by"), "promised before the order was created")
        if None in (created, promised, lat, lon, region) or not group.lines:
            continue
        if lat is None or lon is None or abs(lat) > 90 or abs(lon) > 180:
            continue
        allocation = (
            Allocation(node=node, carrier_service=service)
            if node in nodes and service in services and node and service
            else None
        )
        try:
            orders[order_id] = Order(
                id=order_id,
                channel=Channel(channel),
                customer_tier=CustomerTier(tier),
                ship_to=ShipTo(
                    lat=lat,
                    lon=lon,
                    region=region or "",
                    postal_code=r.text(row, "postal_code") or "",
                ),
                lines=group.lines,
                created_at=created,
                promised_by=promised,
                allocation=allocation,
                status=OrderStatus(status)
                if status
                else (OrderStatus.ALLOCATED if allocation else OrderStatus.OPEN),
            )
        except ValidationError as exc:
            for problem in describe(exc):
                problems.add(row, None, problem)
    return orders


@dataclass
class _Exception:
    row: Row
    event: ExceptionEvent


def _exceptions(
    rows: list[Row],
    mapping: Mapping,
    problems: Problems,
    orders: dict[str, Order],
    snapshot: NetworkSnapshot,
) -> dict[str, _Exception]:
    r = Reader("exceptions", mapping, problems)
    found: dict[str, _Exception] = {}
    known = {
        "node": {n.id for n in snapshot.nodes},
        "carrier": {c.id for c in snapshot.carriers},
        "sku": {s.id for s in snapshot.skus},
    }
    for row in rows:
        exception_id = r.text(row, "exception_id")
        kind = r.choice(row, "type", tuple(t.value for t in EventType))
        occurred = r.moment(row, "occurred_at")
        refs = [
            o.strip()
            for o in (r.text(row, "order_ids") or "").split(mapping.order_separator)
            if o.strip()
        ]
        for ref in refs:
            if ref not in orders:
                problems.add(row, r.col("order_ids"), f"unknown order {ref!r} (not in orders)")
        scope: dict[str, str | None] = {}
        for name in ("node", "carrier", "region", "sku"):
            value = r.text(row, name)
            if value is not None and name in known and value not in known[name]:
                problems.add(row, r.col(name), f"unknown {name} {value!r} (not in the network)")
            scope[name] = value
        details: dict[str, Any] = {}
        raw_details = r.text(row, "details")
        if raw_details:
            try:
                parsed = json.loads(raw_details)
            except json.JSONDecodeError as exc:
                problems.add(row, r.col("details"), f"not a JSON object: {exc.msg}")
                parsed = {}
            if not isinstance(parsed, dict):
                problems.add(row, r.col("details"), "must be a JSON object")
                parsed = {}
            details = parsed
        if exception_id is None or kind is None or occurred is None:
            continue
        if exception_id in found:
            problems.add(
                row,
                r.col("exception_id"),
                f"duplicate exception id {exception_id!r} "
                f"(first at row {found[exception_id].row.number})",
            )
            continue
        try:
            event = ExceptionEvent(
                id=exception_id,
                type=EventType(kind),
                occurred_at=occurred,
                source=r.text(row, "source") or "oms",
                orders=refs,
                details=details,
                text=r.text(row, "text"),
                **scope,
            )
        except ValidationError as exc:
            for problem in describe(exc):
                column = problem.split(":", 1)[0]
                problems.add(
                    row, r.col(column) if column in FIELDS["exceptions"] else None, problem
                )
            continue
        found[exception_id] = _Exception(row, event)
    return found


def _actions(
    rows: list[Row],
    mapping: Mapping,
    problems: Problems,
    exceptions: dict[str, _Exception],
    snapshot: NetworkSnapshot,
) -> dict[str, list[dict[str, Any]]]:
    r = Reader("actions", mapping, problems)
    nodes = {n.id for n in snapshot.nodes}
    services = {s.id for c in snapshot.carriers for s in c.services}
    by_exception: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        exception_id = r.text(row, "exception_id")
        action_type = r.choice(row, "action_type", ACTION_TYPES)
        node, service = r.text(row, "node"), r.text(row, "carrier_service")
        cost = r.number(row, "cost")
        decided_at = r.moment(row, "decided_at")
        if exception_id is not None and exception_id not in exceptions:
            problems.add(row, r.col("exception_id"), f"unknown exception {exception_id!r}")
        if node is not None and node not in nodes:
            problems.add(row, r.col("node"), f"unknown node {node!r} (not in the network)")
        if service is not None and service not in services:
            problems.add(row, r.col("carrier_service"), f"unknown carrier service {service!r}")
        order_id = r.text(row, "order_id")
        if (
            order_id is not None
            and exception_id in exceptions
            and exceptions[exception_id].event.orders
            and order_id not in exceptions[exception_id].event.orders
        ):
            problems.add(
                row, r.col("order_id"), f"order {order_id!r} is not one of {exception_id}'s orders"
            )
        if exception_id is None or action_type is None:
            continue
        by_exception[exception_id].append(
            {
                "action_type": action_type,
                "order": order_id,
                "node": node,
                "carrier_service": service,
                "cost": cost,
                "decided_by": r.text(row, "decided_by"),
                "decided_at": decided_at.isoformat() if decided_at else None,
            }
        )
    return by_exception


@dataclass
class _Outcome:
    outcome: str
    days_late: float | None
    delivered_at: datetime | None


def _outcomes(
    rows: list[Row],
    mapping: Mapping,
    problems: Problems,
    orders: dict[str, Order],
    exceptions: dict[str, _Exception],
) -> tuple[dict[str, _Outcome], dict[str, _Outcome]]:
    """(outcome by exception id, outcome by order id)."""
    r = Reader("outcomes", mapping, problems)
    by_exception: dict[str, _Outcome] = {}
    by_order: dict[str, _Outcome] = {}
    for row in rows:
        order_id = r.text(row, "order_id")
        outcome = r.choice(row, "outcome", OUTCOMES)
        days_late = r.number(row, "days_late")
        delivered = r.moment(row, "delivered_at")
        if order_id is not None and order_id not in orders:
            problems.add(row, r.col("order_id"), f"unknown order {order_id!r} (not in orders)")
        if days_late is not None and days_late < 0:
            problems.add(row, r.col("days_late"), f"must not be negative, got {days_late:g}")
        if outcome == "on_time" and days_late:
            problems.add(row, r.col("days_late"), "an on-time outcome cannot be days late")
        if order_id is None or outcome is None:
            continue
        result = _Outcome(outcome, days_late, delivered)
        exception_id = r.text(row, "exception_id")
        if exception_id and exception_id not in exceptions:
            problems.add(row, r.col("exception_id"), f"unknown exception {exception_id!r}")
        elif exception_id:
            by_exception[exception_id] = result
        else:
            by_order[order_id] = result
    return by_exception, by_order


def _case_orders(
    event: ExceptionEvent, orders: dict[str, Order], snapshot: NetworkSnapshot
) -> list[Order]:
    """The event's orders, or for a scoped event the export's orders in its reach."""
    if event.orders:
        return [orders[o] for o in event.orders]
    carrier_of = {s.id: c.id for c in snapshot.carriers for s in c.services}
    chosen = []
    for order in orders.values():
        if order.created_at > event.occurred_at or order.allocation is None:
            continue
        if event.node and order.allocation.node != event.node:
            continue
        if event.carrier and carrier_of.get(order.allocation.carrier_service) != event.carrier:
            continue
        if event.region and order.ship_to.region != event.region:
            continue
        if event.sku and all(line.sku != event.sku for line in order.lines):
            continue
        chosen.append(order)
    return chosen


def import_export(files: ExportFiles, mapping: Mapping) -> ImportReport:
    """Read and check the whole export; an InputError lists every problem found."""
    problems = Problems()
    snapshot = load_snapshot(files.network)  # InputError naming the field
    tables: dict[str, list[Row]] = {}
    for kind in KINDS:
        path: Path | None = getattr(files, kind)
        if path is None:
            tables[kind] = []
            continue
        rows = list(read_rows(path, problems))
        tables[kind] = rows if check_columns(rows, Reader(kind, mapping, problems), path) else []
    orders = _orders(tables["orders"], mapping, problems, snapshot)
    exceptions = _exceptions(tables["exceptions"], mapping, problems, orders, snapshot)
    actions = _actions(tables["actions"], mapping, problems, exceptions, snapshot)
    outcome_by_exception, outcome_by_order = _outcomes(
        tables["outcomes"], mapping, problems, orders, exceptions
    )
    if problems.items:
        raise InputError(f"OMS export ({len(problems.items)} problem(s))", problems.items)

    carrier_of = {s.id: c.id for c in snapshot.carriers for s in c.services}
    # Empirical on-time rate per lane, from every outcome whose carrier is known.
    lane_counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    histories: dict[str, History] = {}
    for exception_id, item in exceptions.items():
        done = actions.get(exception_id, [])
        first = done[0] if done else {}
        order_id = first.get("order") or (item.event.orders[0] if item.event.orders else None)
        outcome = outcome_by_exception.get(exception_id) or (
            outcome_by_order.get(order_id) if order_id else None
        )
        history = History(
            action_type=first.get("action_type"),
            node=first.get("node"),
            carrier_service=first.get("carrier_service"),
            outcome=outcome.outcome if outcome else None,
            cost=sum(a["cost"] for a in done if a.get("cost") is not None) if done else None,
            decided_by=first.get("decided_by"),
        )
        extra: dict[str, Any] = {"order": order_id}
        if outcome is not None and outcome.days_late is not None:
            extra["days_late"] = outcome.days_late
        if outcome is not None and outcome.delivered_at is not None:
            extra["delivered_at"] = outcome.delivered_at.isoformat()
        if len(done) > 1:
            extra["actions"] = done
        history = history.model_copy(update=extra)
        histories[exception_id] = history
        service = first.get("carrier_service") or (
            orders[order_id].allocation.carrier_service  # type: ignore[union-attr]
            if order_id in orders and orders[order_id].allocation is not None
            else None
        )
        if outcome is not None and outcome.outcome in ("on_time", "late") and service and order_id:
            lane = lane_key(carrier_of[service], orders[order_id].ship_to.region)
            lane_counts[lane][0 if outcome.outcome == "on_time" else 1] += 1
    empirical = {
        lane: round((on + 1) / (on + late + 2), 4)  # Laplace-smoothed
        for lane, (on, late) in sorted(lane_counts.items())
        if on + late >= MIN_LANE_OUTCOMES
    }

    cases: list[ReplayCase] = []
    families: dict[str, int] = defaultdict(int)
    for exception_id, item in sorted(exceptions.items(), key=lambda kv: kv[1].event.occurred_at):
        event = item.event
        case_orders = _case_orders(event, orders, snapshot)
        merged = {o.id: o for o in snapshot.orders} | {o.id: o for o in case_orders}
        network = snapshot.model_copy(
            update={"as_of": event.occurred_at, "orders": list(merged.values())}
        )
        regions = {o.ship_to.region for o in case_orders}
        truth = Truth(
            carrier_on_time={k: v for k, v in empirical.items() if k.split("/", 1)[1] in regions},
            partner_accepts=(
                {event.node: False}
                if event.type is EventType.PARTNER_REJECTED and event.node
                else {}
            ),
        )
        family = mapping.family.get(event.type.value, FAMILY_OF_TYPE[event.type.value])
        families[family] += 1
        try:
            cases.append(
                ReplayCase(
                    id=f"hist-{exception_id}",
                    family=family,
                    network=NetworkSnapshot.model_validate(network.model_dump()),
                    event=event,
                    truth=truth,
                    history=histories[exception_id],
                )
            )
        except ValidationError as exc:
            problems.add(item.row, None, "; ".join(describe(exc)))
    if problems.items:
        raise InputError(f"OMS export ({len(problems.items)} problem(s))", problems.items)
    return ImportReport(
        cases=cases,
        orders=len(orders),
        exceptions=len(exceptions),
        actions=sum(len(v) for v in actions.values()),
        outcomes=len(outcome_by_exception) + len(outcome_by_order),
        by_family=dict(sorted(families.items())),
        with_action=sum(1 for h in histories.values() if h.action_type),
        with_outcome=sum(1 for h in histories.values() if h.outcome),
        empirical_lanes=empirical,
    )


def write_atomically(path: Path, cases: list[ReplayCase]) -> int:
    """Write the cases to a temporary file beside `path`, then rename: all or nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(handle)
    try:
        count = write_cases(Path(tmp), cases)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a dataset is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return count
