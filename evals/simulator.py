"""Seeded simulator of fulfilment networks and their exceptions, as replay cases.

The public API (other eval tools build on it):

- `generate_network(seed, size=NetworkSize())` -> `NetworkSnapshot` (contract section 1): a
  realistic multi-region network: per region a DC, several stores, a 3PL, a distributor and a
  marketplace seller; national and regional carriers with ground / two-day / overnight /
  same-day / freight services; SKUs (some heavy, some hazmat); stock positions whose record
  accuracy depends on the node kind; and allocated orders whose promises leave the slack a
  real OMS leaves (calibrated so that ~8 % of undisturbed orders arrive late, the Olist late
  share in `shared/external/README.md`).
- `generate_cases(families, n, seed, ...)` -> `list[ReplayCase]` (contract section 5): `n`
  cases spread round-robin over `families` (`FAMILIES`), sharing one network per
  `cases_per_network` cases. Each case carries a hidden `truth` drawn from the same
  statistics the records summarise (real pickable units ~ Binomial(on hand, accuracy), real
  lane on-time ~ around the carrier's rate, halved-or-worse on disrupted lanes, real capacity
  of a surging node below its record, partner acceptance) and an `expected` block.
- `write_dataset(path, cases, networks)`: JSONL with networks written once next to it
  (`<stem>.networks/net-XX.json`, referenced by `network_ref`) to keep files small.

Everything is a pure function of the seed: the same arguments give byte-identical files.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from evals.cases import ReplayCase, write_cases
from evals.families import FAMILIES, FamilyError, make_case
from tools.carriers import legal_quotes
from tools.geo import great_circle_km
from tools.network import (
    Allocation,
    Carrier,
    CarrierService,
    Channel,
    CustomerTier,
    InventoryPosition,
    NetworkSnapshot,
    Node,
    NodeKind,
    Order,
    OrderLine,
    OrderStatus,
    ServiceLevel,
    ShipTo,
    Sku,
    TransportMode,
)
from tools.view import NetworkView

__all__ = [
    "FAMILIES",
    "REGIONS",
    "NetworkSize",
    "generate_cases",
    "generate_network",
    "write_dataset",
]

AS_OF = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)

# Region -> (centre lat, centre lon, cities for stores and customers)
REGIONS: dict[str, list[tuple[str, float, float]]] = {
    "NE": [
        ("BOS", 42.36, -71.06),
        ("NYC", 40.75, -73.99),
        ("PHL", 39.95, -75.17),
        ("PVD", 41.82, -71.41),
        ("HFD", 41.76, -72.67),
        ("ALB", 42.65, -73.75),
    ],
    "SE": [
        ("ATL", 33.75, -84.39),
        ("MIA", 25.76, -80.19),
        ("CLT", 35.23, -80.84),
        ("ORL", 28.54, -81.38),
        ("NSH", 36.16, -86.78),
        ("RAL", 35.78, -78.64),
    ],
    "MW": [
        ("CHI", 41.88, -87.63),
        ("DET", 42.33, -83.05),
        ("MSP", 44.98, -93.27),
        ("CLE", 41.50, -81.69),
        ("STL", 38.63, -90.20),
        ("IND", 39.77, -86.16),
    ],
    "W": [
        ("LAX", 34.05, -118.24),
        ("SFO", 37.77, -122.42),
        ("SEA", 47.61, -122.33),
        ("PDX", 45.52, -122.68),
        ("PHX", 33.45, -112.07),
        ("DEN", 39.74, -104.99),
    ],
}

# Record inventory accuracy by node kind (RFID-era DCs vs. stores with shrink and misplacement).
ACCURACY = {
    NodeKind.DC: (0.985, 0.998),
    NodeKind.STORE: (0.80, 0.95),
    NodeKind.THREE_PL: (0.95, 0.99),
    NodeKind.DISTRIBUTOR: (0.93, 0.98),
    NodeKind.MARKETPLACE_SELLER: (0.85, 0.95),
}

SKU_FAMILIES = [  # name, weight range kg, unit cost range, hazmat share
    ("TENT", (3.0, 6.0), (40.0, 120.0), 0.0),
    ("LANTERN", (0.4, 1.2), (8.0, 30.0), 0.0),
    ("FUEL", (0.3, 0.8), (2.0, 6.0), 1.0),
    ("KAYAK", (18.0, 28.0), (220.0, 420.0), 0.0),
    ("GLOVES", (0.2, 0.5), (5.0, 15.0), 0.0),
    ("STOVE", (1.0, 3.0), (25.0, 90.0), 0.0),
    ("BOOTS", (1.0, 2.0), (40.0, 110.0), 0.0),
    ("BATTERY", (0.2, 0.6), (4.0, 20.0), 1.0),
    ("JACKET", (0.6, 1.5), (30.0, 140.0), 0.0),
    ("COOLER", (4.0, 9.0), (30.0, 160.0), 0.0),
]


# The buffer an OMS adds to the nominal ETA when it promises (days, and how often). Calibrated
# so that ~8 % of undisturbed orders arrive late (Olist: 8.1 %); see tests/evals.
BUFFER_DAYS = (0.0, 0.3, 0.9, 2.0)
BUFFER_WEIGHTS = (0.3, 0.3, 0.25, 0.15)


@dataclass(frozen=True)
class NetworkSize:
    stores_per_region: int = 3
    skus: int = 30
    orders: int = 160
    regions: tuple[str, ...] = ("NE", "SE", "MW", "W")


def _node(
    rng: random.Random,
    node_id: str,
    kind: NodeKind,
    region: str,
    lat: float,
    lon: float,
) -> Node:
    cap, channels, handling, processing, cutoff = {
        NodeKind.DC: (
            rng.choice([8000, 12000, 15000]),
            ["d2c", "marketplace", "b2b"],
            2.5,
            1.0,
            22,
        ),
        NodeKind.STORE: (rng.choice([250, 300, 400, 500]), ["d2c", "marketplace"], 4.0, 0.5, 20),
        NodeKind.THREE_PL: (rng.choice([3000, 5000]), ["d2c", "marketplace", "b2b"], 3.0, 1.0, 20),
        NodeKind.DISTRIBUTOR: (rng.choice([1500, 2500]), ["b2b", "d2c"], 3.5, 1.0, 19),
        NodeKind.MARKETPLACE_SELLER: (rng.choice([300, 600]), ["d2c", "marketplace"], 3.0, 1.0, 18),
    }[kind]
    low, high = ACCURACY[kind]
    return Node(
        id=node_id,
        kind=kind,
        region=region,
        lat=round(lat + rng.uniform(-0.15, 0.15), 3),
        lon=round(lon + rng.uniform(-0.15, 0.15), 3),
        channels=[Channel(c) for c in channels],
        capacity_units_per_day=cap,
        backlog_units=int(cap * rng.uniform(0.1, 0.6)),
        handling_cost_per_order=handling,
        processing_days=processing,
        cutoff_hour_utc=cutoff,
        inventory_accuracy=round(rng.uniform(low, high), 3),
    )


def _carriers(rng: random.Random, regions: Sequence[str]) -> list[Carrier]:
    all_regions = list(regions)

    def svc(
        cid: str,
        level: ServiceLevel,
        mode: TransportMode,
        rates: tuple[float, float, float],
        transit: tuple[float, float],
        max_kg: float,
        max_km: float | None = None,
    ) -> CarrierService:
        return CarrierService(
            id=f"{cid}-{level.value.upper()}",
            level=level,
            mode=mode,
            base_rate=rates[0],
            rate_per_kg=rates[1],
            rate_per_100km=rates[2],
            transit_days_base=transit[0],
            transit_days_per_1000km=transit[1],
            max_weight_kg=max_kg,
            max_distance_km=max_km,
        )

    g, a = ServiceLevel, TransportMode
    carriers = [
        Carrier(
            id="PARCELCO",
            regions=all_regions,
            on_time_rate=round(rng.uniform(0.90, 0.94), 3),
            services=[
                svc("PARCELCO", g.GROUND, a.GROUND, (7.0, 0.6, 0.9), (1.0, 1.2), 68),
                svc("PARCELCO", g.TWO_DAY, a.AIR, (14.0, 1.2, 0.5), (1.5, 0.2), 68),
                svc("PARCELCO", g.OVERNIGHT, a.AIR, (24.0, 2.0, 0.6), (0.8, 0.05), 68),
            ],
        ),
        Carrier(
            id="SWIFT",
            regions=all_regions,
            on_time_rate=round(rng.uniform(0.87, 0.92), 3),
            services=[
                svc("SWIFT", g.GROUND, a.GROUND, (6.2, 0.55, 0.85), (1.2, 1.3), 45),
                svc("SWIFT", g.TWO_DAY, a.GROUND, (11.0, 0.9, 0.7), (1.0, 0.6), 45, 1200),
            ],
        ),
        Carrier(
            id="METRODASH",
            regions=all_regions,
            on_time_rate=round(rng.uniform(0.84, 0.90), 3),
            services=[svc("METRODASH", g.SAME_DAY, a.GROUND, (12.0, 0.8, 4.0), (0.2, 2.0), 20, 80)],
        ),
        Carrier(
            id="FREIGHTLINE",
            regions=all_regions,
            on_time_rate=round(rng.uniform(0.86, 0.91), 3),
            services=[svc("FREIGHTLINE", g.FREIGHT, a.GROUND, (45.0, 0.25, 1.2), (2.0, 1.0), 1000)],
        ),
    ]
    # A regional carrier per region pair keeps lanes varied.
    for region in all_regions:
        carriers.append(
            Carrier(
                id=f"LOCAL{region}",
                regions=[region],
                on_time_rate=round(rng.uniform(0.83, 0.90), 3),
                services=[
                    svc(f"LOCAL{region}", g.GROUND, a.GROUND, (5.5, 0.5, 1.0), (0.8, 1.5), 30, 600)
                ],
            )
        )
    return carriers


def generate_network(seed: int, size: NetworkSize | None = None) -> NetworkSnapshot:
    """A seeded, realistic network (see the module docstring); same seed, same network."""
    size = size or NetworkSize()
    rng = random.Random(f"network:{seed}")
    nodes: list[Node] = []
    for region in size.regions:
        cities = REGIONS[region]
        hub = cities[0]
        nodes.append(_node(rng, f"DC-{region}", NodeKind.DC, region, hub[1], hub[2]))
        for city in cities[1 : 1 + size.stores_per_region]:
            nodes.append(_node(rng, f"STORE-{city[0]}", NodeKind.STORE, region, city[1], city[2]))
        c3, cd, cm = cities[-1], cities[-2], cities[1]
        nodes.append(_node(rng, f"3PL-{region}", NodeKind.THREE_PL, region, c3[1], c3[2]))
        nodes.append(_node(rng, f"DIST-{region}", NodeKind.DISTRIBUTOR, region, cd[1], cd[2]))
        nodes.append(_node(rng, f"MKT-{region}", NodeKind.MARKETPLACE_SELLER, region, cm[1], cm[2]))
    skus: list[Sku] = []
    for i in range(size.skus):
        name, (w0, w1), (c0, c1), hazmat = SKU_FAMILIES[i % len(SKU_FAMILIES)]
        skus.append(
            Sku(
                id=f"SKU-{name}-{i // len(SKU_FAMILIES) + 1:02d}",
                weight_kg=round(rng.uniform(w0, w1), 2),
                hazmat=rng.random() < hazmat,
                unit_cost=round(rng.uniform(c0, c1), 2),
            )
        )
    inventory: dict[tuple[str, str], InventoryPosition] = {}
    for node in nodes:
        share = {NodeKind.DC: 0.9, NodeKind.STORE: 0.45, NodeKind.THREE_PL: 0.6}.get(
            node.kind, 0.35
        )
        for sku in skus:
            if rng.random() >= share:
                continue
            big = node.kind in (NodeKind.DC, NodeKind.THREE_PL, NodeKind.DISTRIBUTOR)
            on_hand = rng.randint(20, 400) if big else rng.randint(1, 25)
            inventory[(node.id, sku.id)] = InventoryPosition(
                node=node.id,
                sku=sku.id,
                on_hand=on_hand,
                reserved=0,
                safety_stock=rng.randint(0, 2) if not big else rng.randint(2, 10),
            )
    carriers = _carriers(rng, size.regions)
    base = NetworkSnapshot(
        as_of=AS_OF,
        skus=skus,
        nodes=nodes,
        inventory=list(inventory.values()),
        carriers=carriers,
        orders=[],
    )
    view = NetworkView.of(base)
    orders = _orders(rng, view, size, inventory)
    return base.model_copy(update={"orders": orders, "inventory": list(inventory.values())})


def _orders(
    rng: random.Random,
    view: NetworkView,
    size: NetworkSize,
    inventory: dict[tuple[str, str], InventoryPosition],
) -> list[Order]:
    orders: list[Order] = []
    skus = list(view.skus.values())
    tiers = [CustomerTier.STANDARD] * 6 + [CustomerTier.SILVER] * 2 + [CustomerTier.GOLD] * 2
    for i in range(size.orders * 2):
        if len(orders) >= size.orders:
            break
        region = rng.choice(size.regions)
        _, lat, lon = rng.choice(REGIONS[region])
        channel = rng.choices([Channel.D2C, Channel.MARKETPLACE, Channel.B2B], [0.7, 0.2, 0.1])[0]
        tier = CustomerTier.B2B_CONTRACT if channel is Channel.B2B else rng.choice(tiers)
        n_lines = rng.choices([1, 2], [0.8, 0.2])[0]
        lines = [
            OrderLine(
                sku=sku.id,
                qty=rng.randint(2, 6)
                if channel is Channel.B2B
                else rng.choices([1, 2], [0.8, 0.2])[0],
                unit_price=round(sku.unit_cost * rng.uniform(1.8, 2.8), 2),
            )
            for sku in rng.sample(skus, n_lines)
        ]
        ship_to = ShipTo(
            lat=round(lat + rng.uniform(-0.3, 0.3), 3),
            lon=round(lon + rng.uniform(-0.3, 0.3), 3),
            region=region,
            postal_code=f"{rng.randint(10000, 99999)}",
        )
        weight = sum(view.skus[ln.sku].weight_kg * ln.qty for ln in lines)
        # The OMS allocated it: usually the nearest node with stock for every line, sometimes a
        # store or partner (ship-from-store and drop-ship programmes).
        cands = []
        for node in view.nodes.values():
            if channel not in node.channels:
                continue
            if channel is Channel.B2B and node.kind is NodeKind.MARKETPLACE_SELLER:
                continue
            if all(
                (p := inventory.get((node.id, ln.sku))) is not None
                and p.on_hand - p.reserved - p.safety_stock >= ln.qty
                for ln in lines
            ):
                km = great_circle_km(node.lat, node.lon, ship_to.lat, ship_to.lon)
                cands.append((km, node.id))
        if not cands:
            continue
        cands.sort()
        pick = cands[0] if rng.random() < 0.6 else rng.choice(cands[: min(4, len(cands))])
        node = view.nodes[pick[1]]
        created = AS_OF - timedelta(hours=rng.uniform(2, 30))
        far = AS_OF + timedelta(days=30)
        quotes = [
            q
            for q in legal_quotes(view, node.id, ship_to, weight, far, AS_OF)
            if not (q.mode is TransportMode.AIR and any(view.skus[ln.sku].hazmat for ln in lines))
            and q.level is not ServiceLevel.SAME_DAY
        ]
        if not quotes:
            continue
        # Customers mostly buy ground; some pay for speed.
        level_pref = rng.choices(["cheap", "fast"], [0.8, 0.2])[0]
        q = quotes[0] if level_pref == "cheap" else min(quotes, key=lambda x: x.eta)
        # Promise = the nominal ETA plus the buffer an OMS adds (in days). Calibrated so that
        # ~8 % of undisturbed orders end up late (Olist: 8.1 %).
        buffer_days = rng.choices(BUFFER_DAYS, BUFFER_WEIGHTS)[0]
        promised = q.eta + timedelta(days=buffer_days)
        promised = promised.replace(hour=23, minute=59, second=0, microsecond=0)
        for ln in lines:
            p = inventory[(node.id, ln.sku)]
            inventory[(node.id, ln.sku)] = p.model_copy(update={"reserved": p.reserved + ln.qty})
        orders.append(
            Order(
                id=f"O-{10001 + i}",
                channel=channel,
                customer_tier=tier,
                ship_to=ship_to,
                lines=lines,
                created_at=created,
                promised_by=promised,
                allocation=Allocation(node=node.id, carrier_service=q.carrier_service),
                status=OrderStatus.ALLOCATED,
            )
        )
    return orders


def generate_cases(
    families: Sequence[str],
    n: int,
    seed: int,
    *,
    cases_per_network: int = 50,
    size: NetworkSize | None = None,
) -> tuple[list[ReplayCase], dict[str, NetworkSnapshot]]:
    """`n` cases over `families` (round-robin), and the networks they reference by name.

    Cases carry `network_ref` = the network's name (`net-00` ...); `write_dataset` turns the
    names into files. A family that cannot be staged on a network (e.g. no order allocated to a
    partner) is retried on another draw; unknown families are a `FamilyError`.
    """
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        raise FamilyError(
            f"unknown famil{'ies' if len(unknown) > 1 else 'y'} {unknown}; "
            f"known: {', '.join(FAMILIES)}"
        )
    if not families:
        raise FamilyError("no family given")
    if n < 1:
        raise FamilyError("n must be at least 1")
    networks: dict[str, NetworkSnapshot] = {}
    views: dict[str, NetworkView] = {}
    cases: list[ReplayCase] = []
    rng = random.Random(f"cases:{seed}")
    for i in range(n):
        name = f"net-{i // cases_per_network:02d}"
        if name not in networks:
            networks[name] = generate_network(seed * 1000 + i // cases_per_network, size)
            views[name] = NetworkView.of(networks[name])
        family = families[i % len(families)]
        for _attempt in range(50):
            case = make_case(family, f"{family}-{seed}-{i:05d}", views[name], rng)
            if case is not None:
                break
        else:
            raise FamilyError(f"could not stage a {family} case on {name}")
        cases.append(case.model_copy(update={"network_ref": name}))
    return cases, networks


def write_dataset(
    path: Path, cases: Sequence[ReplayCase], networks: dict[str, NetworkSnapshot]
) -> int:
    """Write the cases as JSONL and each network once in `<stem>.networks/`; returns the count.

    `network_ref` names are rewritten to paths relative to the dataset's folder."""
    folder = path.parent / f"{path.stem}.networks"
    folder.mkdir(parents=True, exist_ok=True)
    for name, snapshot in networks.items():
        data = snapshot.model_dump(mode="json")
        (folder / f"{name}.json").write_text(json.dumps(data, separators=(",", ":")) + "\n")
    rel = folder.name
    return write_cases(
        path,
        (
            c.model_copy(update={"network_ref": f"{rel}/{c.network_ref}.json"})
            if c.network_ref in networks
            else c
            for c in cases
        ),
    )
