"""An indexed, read-only view of the network that the deterministic tools decide on.

A `NetworkView` wraps a `NetworkSnapshot` (all of it, or the slice a decision needs) with
lookups by id and the learned signals that refine the contract's priors: carrier reliability
per carrier/region and node inventory accuracy (both posterior means kept by the learner).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from tools.network import (
    Carrier,
    CarrierService,
    InventoryPosition,
    NetworkSnapshot,
    Node,
    Order,
    Sku,
)


def lane_key(carrier_id: str, region: str) -> str:
    """The key of a carrier's lane into a region, as replay truths write it: `PARCELCO/SE`."""
    return f"{carrier_id}/{region}"


def position_key(node_id: str, sku_id: str) -> str:
    """The key of a node's stock of a SKU, as replay truths write it: `STORE-BOS/SKU-TENT`."""
    return f"{node_id}/{sku_id}"


@dataclass(frozen=True)
class NetworkView:
    """Lookups over a snapshot plus learned reliability and accuracy.

    `carrier_reliability` maps `CARRIER/REGION` to a learned on-time probability;
    `node_accuracy` maps a node id to a learned inventory accuracy. Missing keys fall back to
    the snapshot's `on_time_rate` and `inventory_accuracy`.
    """

    snapshot: NetworkSnapshot
    carrier_reliability: Mapping[str, float] = field(default_factory=dict)
    node_accuracy: Mapping[str, float] = field(default_factory=dict)
    skus: dict[str, Sku] = field(init=False)
    nodes: dict[str, Node] = field(init=False)
    carriers: dict[str, Carrier] = field(init=False)
    services: dict[str, tuple[Carrier, CarrierService]] = field(init=False)
    orders: dict[str, Order] = field(init=False)
    inventory: dict[tuple[str, str], InventoryPosition] = field(init=False)
    stock_by_sku: dict[str, list[InventoryPosition]] = field(init=False)

    def __post_init__(self) -> None:
        snap = self.snapshot
        set_ = object.__setattr__
        set_(self, "skus", {s.id: s for s in snap.skus})
        set_(self, "nodes", {n.id: n for n in snap.nodes})
        set_(self, "carriers", {c.id: c for c in snap.carriers})
        set_(self, "services", {s.id: (c, s) for c in snap.carriers for s in c.services})
        set_(self, "orders", {o.id: o for o in snap.orders})
        set_(self, "inventory", {(p.node, p.sku): p for p in snap.inventory})
        by_sku: dict[str, list[InventoryPosition]] = {}
        for pos in snap.inventory:
            by_sku.setdefault(pos.sku, []).append(pos)
        set_(self, "stock_by_sku", by_sku)

    @classmethod
    def of(
        cls,
        snapshot: NetworkSnapshot,
        carrier_reliability: Mapping[str, float] | None = None,
        node_accuracy: Mapping[str, float] | None = None,
    ) -> NetworkView:
        return cls(snapshot, dict(carrier_reliability or {}), dict(node_accuracy or {}))

    @property
    def as_of(self) -> datetime:
        return self.snapshot.as_of

    def reliability(self, carrier_id: str, region: str) -> float:
        """Learned on-time probability of a carrier into a region (prior: `on_time_rate`)."""
        learned = self.carrier_reliability.get(lane_key(carrier_id, region))
        if learned is not None:
            return learned
        return self.carriers[carrier_id].on_time_rate

    def accuracy(self, node_id: str) -> float:
        """Learned probability that a unit on record at the node is really pickable."""
        learned = self.node_accuracy.get(node_id)
        if learned is not None:
            return learned
        return self.nodes[node_id].inventory_accuracy

    def position(self, node_id: str, sku_id: str) -> InventoryPosition | None:
        return self.inventory.get((node_id, sku_id))

    def atp(self, node_id: str, sku_id: str, *, include_safety_stock: bool = False) -> int:
        pos = self.inventory.get((node_id, sku_id))
        if pos is None:
            return 0
        return pos.atp_including_safety_stock if include_safety_stock else pos.atp

    def order_weight_kg(self, order: Order) -> float:
        return sum(line.qty * self.skus[line.sku].weight_kg for line in order.lines)

    def lines_weight_kg(self, lines: Iterable[tuple[str, int]]) -> float:
        return sum(qty * self.skus[sku].weight_kg for sku, qty in lines)

    def is_hazmat(self, sku_ids: Iterable[str]) -> bool:
        return any(self.skus[s].hazmat for s in sku_ids)
