"""The network snapshot of contract section 1: SKUs, nodes, inventory, carriers, orders.

Field order and types follow the contract's JSON exactly, so that a snapshot survives
load -> export byte for byte (`dump_snapshot`). Inputs are strict about shape
(`extra="forbid"`): a misspelt field is an error that names the field, never silently dropped.
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)


def _compact_number(value: float | None) -> int | float | None:
    """Serialise integral floats as ints (68 not 68.0) for fields the contract writes as ints."""
    if value is not None and float(value).is_integer():
        return int(value)
    return value


CompactFloat = Annotated[float, PlainSerializer(_compact_number, return_type=Any)]
Id = Annotated[str, Field(min_length=1, max_length=128)]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]


class Strict(BaseModel):
    """Base for contract models: unknown fields are refused, values validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class NodeKind(StrEnum):
    DC = "dc"
    STORE = "store"
    THREE_PL = "3pl"
    DISTRIBUTOR = "distributor"
    MARKETPLACE_SELLER = "marketplace_seller"


class NodeStatus(StrEnum):
    OPEN = "open"
    DEGRADED = "degraded"
    CLOSED = "closed"


class Channel(StrEnum):
    D2C = "d2c"
    B2B = "b2b"
    MARKETPLACE = "marketplace"


class CustomerTier(StrEnum):
    STANDARD = "standard"
    SILVER = "silver"
    GOLD = "gold"
    B2B_CONTRACT = "b2b_contract"


class ServiceLevel(StrEnum):
    SAME_DAY = "same_day"
    OVERNIGHT = "overnight"
    TWO_DAY = "two_day"
    GROUND = "ground"
    FREIGHT = "freight"


# Faster levels first: used to decide what counts as an "upgrade".
SERVICE_LEVEL_SPEED: dict[ServiceLevel, int] = {
    ServiceLevel.SAME_DAY: 0,
    ServiceLevel.OVERNIGHT: 1,
    ServiceLevel.TWO_DAY: 2,
    ServiceLevel.GROUND: 3,
    ServiceLevel.FREIGHT: 4,
}


class TransportMode(StrEnum):
    GROUND = "ground"
    AIR = "air"


class OrderStatus(StrEnum):
    OPEN = "open"
    ALLOCATED = "allocated"
    RELEASED = "released"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    BACKORDERED = "backordered"


# Orders an exception can still act on (not shipped, delivered or cancelled).
ACTIONABLE_ORDER_STATUSES = frozenset(
    {OrderStatus.OPEN, OrderStatus.ALLOCATED, OrderStatus.RELEASED, OrderStatus.BACKORDERED}
)


class Sku(Strict):
    id: Id
    weight_kg: NonNegative
    hazmat: bool = False
    unit_cost: NonNegative


class Node(Strict):
    id: Id
    kind: NodeKind
    region: Id
    lat: Annotated[float, Field(ge=-90.0, le=90.0)]
    lon: Annotated[float, Field(ge=-180.0, le=180.0)]
    status: NodeStatus = NodeStatus.OPEN
    channels: list[Channel]
    capacity_units_per_day: Annotated[int, Field(ge=0)]
    backlog_units: Annotated[int, Field(ge=0)]
    handling_cost_per_order: NonNegative
    processing_days: NonNegative
    cutoff_hour_utc: Annotated[int, Field(ge=0, le=23)]
    inventory_accuracy: Probability

    def utilization(self, added_units: int = 0) -> float:
        """(backlog + added) / capacity per day; infinite when the node has no capacity."""
        if self.capacity_units_per_day <= 0:
            return float("inf")
        return (self.backlog_units + added_units) / self.capacity_units_per_day


class InventoryPosition(Strict):
    node: Id
    sku: Id
    on_hand: Annotated[int, Field(ge=0)]
    reserved: Annotated[int, Field(ge=0)] = 0
    safety_stock: Annotated[int, Field(ge=0)] = 0

    @model_validator(mode="after")
    def _reserved_within_on_hand(self) -> InventoryPosition:
        if self.reserved > self.on_hand:
            raise ValueError(
                f"reserved ({self.reserved}) exceeds on_hand ({self.on_hand}) "
                f"for {self.node}/{self.sku}"
            )
        return self

    @property
    def atp(self) -> int:
        """Available to promise: on hand - reserved - safety stock, never below zero."""
        return max(0, self.on_hand - self.reserved - self.safety_stock)

    @property
    def atp_including_safety_stock(self) -> int:
        return max(0, self.on_hand - self.reserved)


class CarrierService(Strict):
    id: Id
    level: ServiceLevel
    mode: TransportMode
    base_rate: NonNegative
    rate_per_kg: NonNegative
    rate_per_100km: NonNegative
    transit_days_base: NonNegative
    transit_days_per_1000km: NonNegative
    max_weight_kg: Annotated[CompactFloat, Field(gt=0)]
    max_distance_km: Annotated[CompactFloat, Field(gt=0)] | None = None


class Carrier(Strict):
    id: Id
    regions: list[Id]
    on_time_rate: Probability
    disrupted_regions: list[Id] = Field(default_factory=list)
    services: list[CarrierService]


class ShipTo(Strict):
    lat: Annotated[float, Field(ge=-90.0, le=90.0)]
    lon: Annotated[float, Field(ge=-180.0, le=180.0)]
    region: Id
    postal_code: str = ""


class OrderLine(Strict):
    sku: Id
    qty: Annotated[int, Field(gt=0)]
    unit_price: NonNegative


class Allocation(Strict):
    node: Id
    carrier_service: Id


class Order(Strict):
    id: Id
    channel: Channel
    customer_tier: CustomerTier = CustomerTier.STANDARD
    ship_to: ShipTo
    lines: Annotated[list[OrderLine], Field(min_length=1)]
    created_at: AwareDatetime
    promised_by: AwareDatetime
    allocation: Allocation | None = None
    status: OrderStatus = OrderStatus.OPEN

    @property
    def value(self) -> float:
        return sum(line.qty * line.unit_price for line in self.lines)

    @property
    def units(self) -> int:
        return sum(line.qty for line in self.lines)


class NetworkSnapshot(Strict):
    as_of: AwareDatetime
    skus: list[Sku]
    nodes: list[Node]
    inventory: list[InventoryPosition]
    carriers: list[Carrier]
    orders: list[Order]

    @field_validator("skus", "nodes", "carriers", "orders")
    @classmethod
    def _unique_ids(cls, items: list[Any]) -> list[Any]:
        seen: set[str] = set()
        for item in items:
            if item.id in seen:
                raise ValueError(f"duplicate id {item.id!r}")
            seen.add(item.id)
        return items

    @model_validator(mode="after")
    def _references_resolve(self) -> NetworkSnapshot:
        skus = {s.id for s in self.skus}
        nodes = {n.id for n in self.nodes}
        services = {svc.id for c in self.carriers for svc in c.services}
        if len(services) != sum(len(c.services) for c in self.carriers):
            raise ValueError("carrier service ids must be unique across carriers")
        seen_positions: set[tuple[str, str]] = set()
        for i, pos in enumerate(self.inventory):
            if pos.node not in nodes:
                raise ValueError(f"inventory[{i}].node: unknown node {pos.node!r}")
            if pos.sku not in skus:
                raise ValueError(f"inventory[{i}].sku: unknown sku {pos.sku!r}")
            if (pos.node, pos.sku) in seen_positions:
                raise ValueError(f"inventory[{i}]: duplicate position {pos.node}/{pos.sku}")
            seen_positions.add((pos.node, pos.sku))
        for i, order in enumerate(self.orders):
            for j, line in enumerate(order.lines):
                if line.sku not in skus:
                    raise ValueError(f"orders[{i}].lines[{j}].sku: unknown sku {line.sku!r}")
            if order.allocation is not None:
                if order.allocation.node not in nodes:
                    raise ValueError(
                        f"orders[{i}].allocation.node: unknown node {order.allocation.node!r}"
                    )
                if order.allocation.carrier_service not in services:
                    raise ValueError(
                        f"orders[{i}].allocation.carrier_service: unknown service "
                        f"{order.allocation.carrier_service!r}"
                    )
        return self


def dump_snapshot(snapshot: NetworkSnapshot) -> str:
    """The canonical JSON text of a snapshot: two-space indent, trailing newline."""
    return json.dumps(snapshot.model_dump(mode="json"), indent=2) + "\n"


def utc_iso(moment: datetime) -> str:
    """ISO-8601 in UTC with a trailing Z, as the contract writes times."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
