"""Network entities <-> table rows, and the reads that rebuild them in snapshot order."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from datetime import datetime
from functools import partial
from typing import Any, Generic, TypeVar

from pydantic import TypeAdapter
from sqlalchemy import Column, Connection, Row, Select, Text, bindparam, cast, select

from tools.network import (
    Carrier,
    CarrierService,
    InventoryPosition,
    Node,
    Order,
    OrderLine,
    Sku,
)
from tools.store.dialect import chunks
from tools.store.driver_statements import DriverStatement
from tools.store.schema import (
    CARRIERS,
    INVENTORY,
    META,
    NODES,
    ORDER_LINES,
    ORDERS,
    SERVICES,
    SKUS,
)

_TIME = TypeAdapter(datetime)
# The decision path's reads, built once (building a statement costs more than running it).
_META = select(META.c.value).where(META.c.key == bindparam("k"))
_SKUS = select(SKUS).order_by(SKUS.c.pos, SKUS.c.id)
# A node's channels (a JSON list) come as their stored text: the row is then hashable as it
# is (the model memo's key), and the text is parsed only when a model is built from it.
_NODES = select(
    *(cast(c, Text).label(c.name) if c.name == "channels" else c for c in NODES.c)
).order_by(NODES.c.pos, NODES.c.id)
_SERVICES = select(SERVICES).order_by(SERVICES.c.pos, SERVICES.c.id)
_CARRIERS = select(CARRIERS).order_by(CARRIERS.c.pos, CARRIERS.c.id)
# A decision reads a few orders and the stock of their few SKUs: IN-lists up to this long run
# on the driver, one prebuilt statement per length (longer ones expand through SQLAlchemy).
DRIVER_IN_MAX = 8


class _InList:
    """`SELECT <table> WHERE <column> IN (:v0, ..., :vn)`, one `DriverStatement` per length."""

    def __init__(self, stmt: Select[Any], column: Column[Any]) -> None:
        self._by_length = {
            n: DriverStatement(stmt.where(column.in_([bindparam(f"v{i}") for i in range(n)])))
            for n in range(1, DRIVER_IN_MAX + 1)
        }
        self._expanding = stmt.where(column.in_(bindparam("v", expanding=True)))

    def rows(self, conn: Connection, values: Collection[str]) -> list[Any]:
        stmt = self._by_length.get(len(values))
        if stmt is None:
            return list(conn.execute(self._expanding, {"v": list(values)}))
        return stmt.execute(conn, {f"v{i}": v for i, v in enumerate(values)}).rows


_INVENTORY_IN = _InList(select(INVENTORY), INVENTORY.c.sku)
_ORDERS_IN = _InList(select(ORDERS), ORDERS.c.id)
_LINES_IN = _InList(select(ORDER_LINES), ORDER_LINES.c.order_id)
AS_OF_KEY = "as_of"
LOADED_AT_KEY = "loaded_at"

M = TypeVar("M")


class RowModels(Generic[M]):
    """The model built from each row read, kept by the row's values: a row that did not
    change since it was last read gives the same model back instead of a new one (building
    and validating a model costs far more than reading its row; a decision changes one or two
    nodes' rows and re-reads all of them). Models read from the store are treated as values
    (never changed in place), as the view cache already shares them. Bounded: cleared when
    it holds `limit` models."""

    def __init__(self, limit: int = 20_000) -> None:
        self.limit = limit
        self._models: dict[tuple[Any, ...], M] = {}

    def get(self, key: tuple[Any, ...], build: Callable[[], M]) -> M:
        found = self._models.get(key)
        if found is None:
            if len(self._models) >= self.limit:
                self._models.clear()
            found = self._models[key] = build()
        return found


_NODE_MODELS: RowModels[Node] = RowModels()
_POSITION_MODELS: RowModels[InventoryPosition] = RowModels()
_ORDER_MODELS: RowModels[Order] = RowModels()


def time_text(moment: datetime) -> str:
    """A time as the snapshot JSON writes it (pydantic's JSON form), kept verbatim in the store."""
    return str(_TIME.dump_python(moment, mode="json"))


def parse_time(text: str) -> datetime:
    return _TIME.validate_python(text)


# ---------------------------------------------------------------- model -> row values


def sku_values(sku: Sku, pos: int) -> dict[str, Any]:
    return {"pos": pos, **sku.model_dump()}


def node_values(node: Node, pos: int) -> dict[str, Any]:
    return {"pos": pos, **node.model_dump(mode="json")}


def position_values(position: InventoryPosition, pos: int) -> dict[str, Any]:
    return {"pos": pos, **position.model_dump()}


def carrier_values(carrier: Carrier, pos: int) -> dict[str, Any]:
    return {
        "id": carrier.id,
        "pos": pos,
        "regions": list(carrier.regions),
        "on_time_rate": carrier.on_time_rate,
        "disrupted_regions": list(carrier.disrupted_regions),
    }


def service_values(carrier_id: str, service: CarrierService, pos: int) -> dict[str, Any]:
    return {"carrier": carrier_id, "pos": pos, **service.model_dump(mode="python")}


def order_values(order: Order, pos: int) -> dict[str, Any]:
    return {
        "id": order.id,
        "pos": pos,
        "channel": order.channel.value,
        "customer_tier": order.customer_tier.value,
        "ship_lat": order.ship_to.lat,
        "ship_lon": order.ship_to.lon,
        "ship_region": order.ship_to.region,
        "ship_postal_code": order.ship_to.postal_code,
        "created_at": time_text(order.created_at),
        "promised_by": time_text(order.promised_by),
        "alloc_node": order.allocation.node if order.allocation else None,
        "alloc_service": order.allocation.carrier_service if order.allocation else None,
        "status": order.status.value,
    }


def line_values(order_id: str, lines: list[OrderLine]) -> list[dict[str, Any]]:
    return [
        {"order_id": order_id, "line_no": i, **line.model_dump()} for i, line in enumerate(lines)
    ]


# ---------------------------------------------------------------- row -> model


def _sku(row: Row[Any]) -> Sku:
    m = row._mapping
    return Sku(id=m["id"], weight_kg=m["weight_kg"], hazmat=m["hazmat"], unit_cost=m["unit_cost"])


def node_from_row(row: Row[Any]) -> Node:
    m = dict(row._mapping)
    m.pop("pos", None)
    if isinstance(m.get("channels"), str):  # read as text by `read_nodes`
        m["channels"] = json.loads(m["channels"])
    return Node.model_validate(m)


def position_from_row(row: Any) -> InventoryPosition:
    """From an inventory row (a SQLAlchemy `Row` or a `DriverStatement`'s row)."""
    return InventoryPosition(
        node=row.node,
        sku=row.sku,
        on_hand=row.on_hand,
        reserved=row.reserved,
        safety_stock=row.safety_stock,
    )


def _service(row: Row[Any]) -> CarrierService:
    m = dict(row._mapping)
    for extra in ("carrier", "pos"):
        m.pop(extra, None)
    return CarrierService.model_validate(m)


def _order(row: Any, line_rows: list[Any]) -> Order:
    m = row._asdict()  # a SQLAlchemy `Row` or a `DriverStatement`'s row
    lines = [OrderLine(sku=r.sku, qty=r.qty, unit_price=r.unit_price) for r in line_rows]
    allocation = (
        {"node": m["alloc_node"], "carrier_service": m["alloc_service"]}
        if m["alloc_node"] is not None and m["alloc_service"] is not None
        else None
    )
    return Order.model_validate(
        {
            "id": m["id"],
            "channel": m["channel"],
            "customer_tier": m["customer_tier"],
            "ship_to": {
                "lat": m["ship_lat"],
                "lon": m["ship_lon"],
                "region": m["ship_region"],
                "postal_code": m["ship_postal_code"],
            },
            "lines": lines,
            "created_at": m["created_at"],
            "promised_by": m["promised_by"],
            "allocation": allocation,
            "status": m["status"],
        }
    )


# ---------------------------------------------------------------- reads, in snapshot order


def read_meta(conn: Connection, key: str) -> str | None:
    return conn.execute(_META, {"k": key}).scalar_one_or_none()


def read_as_of(conn: Connection) -> datetime | None:
    text = read_meta(conn, AS_OF_KEY)
    return parse_time(text) if text is not None else None


def read_skus(conn: Connection) -> list[Sku]:
    return [_sku(r) for r in conn.execute(_SKUS)]


def read_nodes(conn: Connection) -> list[Node]:
    return [_NODE_MODELS.get(tuple(r), partial(node_from_row, r)) for r in conn.execute(_NODES)]


def read_carriers(conn: Connection) -> list[Carrier]:
    services: dict[str, list[CarrierService]] = {}
    for row in conn.execute(_SERVICES):
        services.setdefault(row.carrier, []).append(_service(row))
    carriers = []
    for row in conn.execute(_CARRIERS):
        carriers.append(
            Carrier(
                id=row.id,
                regions=list(row.regions),
                on_time_rate=row.on_time_rate,
                disrupted_regions=list(row.disrupted_regions),
                services=services.get(row.id, []),
            )
        )
    return carriers


def read_inventory(
    conn: Connection, skus: Collection[str] | None = None
) -> list[InventoryPosition]:
    """Every position (snapshot order), or only the positions of the given SKUs."""
    order = (INVENTORY.c.pos, INVENTORY.c.node, INVENTORY.c.sku)
    if skus is None:
        rows = list(conn.execute(select(INVENTORY).order_by(*order)))
    else:
        rows = []
        for part in chunks(sorted(set(skus))):
            rows.extend(_INVENTORY_IN.rows(conn, part))
        rows.sort(key=lambda r: (r.pos, r.node, r.sku))
    return [_POSITION_MODELS.get(tuple(r), partial(position_from_row, r)) for r in rows]


def read_orders(conn: Connection, ids: Collection[str] | None = None) -> list[Order]:
    """Every order (snapshot order), or the given ones that exist (still in snapshot order)."""
    if ids is None:
        order_rows = list(conn.execute(select(ORDERS).order_by(ORDERS.c.pos, ORDERS.c.id)))
        line_rows = list(
            conn.execute(
                select(ORDER_LINES).order_by(ORDER_LINES.c.order_id, ORDER_LINES.c.line_no)
            )
        )
    else:
        order_rows, line_rows = [], []
        for part in chunks(sorted(set(ids))):
            order_rows.extend(_ORDERS_IN.rows(conn, part))
            line_rows.extend(_LINES_IN.rows(conn, part))
        order_rows.sort(key=lambda r: (r.pos, r.id))
        line_rows.sort(key=lambda r: (r.order_id, r.line_no))
    lines: dict[str, list[Any]] = {}
    for row in line_rows:
        lines.setdefault(row.order_id, []).append(row)
    return [
        _ORDER_MODELS.get(
            (tuple(row), *(tuple(line) for line in lines.get(row.id, ()))),
            partial(_order, row, lines.get(row.id, [])),
        )
        for row in order_rows
    ]
