"""Loading, refreshing and exporting network snapshots; the reader API."""

from __future__ import annotations

import json
from datetime import timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from tools.inputs import InputError, load_event, parse
from tools.network import (
    InventoryPosition,
    NetworkSnapshot,
    OrderStatus,
    dump_snapshot,
)
from tools.store import NoNetwork, Store
from tools.store import snapshots as snapshots_module


def test_example_network_round_trips_byte_for_byte(store: Store, northeast_path: Path) -> None:
    report = store.load_file(northeast_path)
    assert dump_snapshot(store.export_snapshot()) == northeast_path.read_text()
    assert not report.refreshed
    assert report.counts == {"skus": 5, "nodes": 10, "inventory": 17, "carriers": 3, "orders": 5}


def test_every_public_case_network_round_trips(store: Store, examples_dir: Path) -> None:
    for line in (examples_dir / "cases-public.jsonl").read_text().splitlines():
        case = json.loads(line)
        if "network" not in case:
            continue
        snapshot = NetworkSnapshot.model_validate(case["network"])
        store.load_snapshot(snapshot)
        assert dump_snapshot(store.export_snapshot()) == dump_snapshot(snapshot), case["id"]


def test_every_example_event_parses_and_registers(store: Store, examples_dir: Path) -> None:
    files = sorted((examples_dir / "events").glob("*.json"))
    assert files
    for path in files:
        event = load_event(path)
        record, created = store.register_exception(event)
        assert created and record.event == event


def test_floats_ints_and_time_offsets_survive(store: Store, northeast: NetworkSnapshot) -> None:
    data = northeast.model_dump(mode="json")
    data["skus"][0]["weight_kg"] = 0.1 + 0.2  # 0.30000000000000004
    data["skus"][1]["unit_cost"] = 1e-9
    data["nodes"][0]["lat"] = 40.123456789012345
    data["nodes"][0]["capacity_units_per_day"] = 2_000_000_000
    data["carriers"][0]["services"][0]["max_weight_kg"] = 68.5
    data["carriers"][0]["services"][0]["max_distance_km"] = 1200
    data["orders"][0]["promised_by"] = "2026-11-26T23:59:00+02:00"
    data["orders"][1]["created_at"] = "2026-11-23T15:00:00.123456Z"
    snapshot = NetworkSnapshot.model_validate(data)
    store.load_snapshot(snapshot)
    exported = store.export_snapshot()
    assert dump_snapshot(exported) == dump_snapshot(snapshot)
    assert exported.skus[0].weight_kg == 0.1 + 0.2
    assert '"promised_by": "2026-11-26T23:59:00+02:00"' in dump_snapshot(exported)
    assert '"max_distance_km": 1200\n' in dump_snapshot(exported)


def test_refresh_replaces_the_network_and_reports_what_changed(
    store: Store, northeast: NetworkSnapshot
) -> None:
    store.load_snapshot(northeast)
    data = northeast.model_dump(mode="json")
    data["as_of"] = "2026-11-24T10:00:00Z"
    data["nodes"][2]["backlog_units"] = 999  # updated
    data["nodes"].reverse()  # moved: same entities, new order
    removed_order = data["orders"].pop(3)["id"]  # O-1004 removed
    new_order = dict(data["orders"][0], id="O-2000")  # added
    data["orders"].append(new_order)
    data["inventory"] = [p for p in data["inventory"] if p["node"] != "MKT-NEWARK"]
    data["carriers"][0]["services"][0]["base_rate"] = 99.0  # carrier updated via a service
    data["skus"].append({"id": "SKU-NEW", "weight_kg": 1.0, "hazmat": False, "unit_cost": 2.0})
    refreshed = NetworkSnapshot.model_validate(data)

    report = store.load_snapshot(refreshed)

    assert report.refreshed
    assert report.previous_as_of == northeast.as_of
    assert report.changes["nodes"].updated == 1
    assert report.changes["nodes"].unchanged == 9
    assert report.changes["orders"].added == 1 and report.changes["orders"].removed == 1
    assert report.changes["skus"].added == 1
    assert report.changes["carriers"].updated == 1
    removed_positions = sum(1 for p in northeast.inventory if p.node == "MKT-NEWARK")
    assert report.changes["inventory"].removed == removed_positions > 0
    assert dump_snapshot(store.export_snapshot()) == dump_snapshot(refreshed)
    assert store.get_order(removed_order) is None

    again = store.load_snapshot(refreshed)
    assert not any(c.changed for c in again.changes.values())


def test_refresh_can_remove_entities_other_rows_pointed_at(
    store: Store, northeast: NetworkSnapshot
) -> None:
    """Nodes, services and SKUs disappear together with the orders and stock that used them."""
    store.load_snapshot(northeast)
    data = northeast.model_dump(mode="json")
    gone_node = "STORE-BOS"
    data["nodes"] = [n for n in data["nodes"] if n["id"] != gone_node]
    data["inventory"] = [p for p in data["inventory"] if p["node"] != gone_node]
    data["orders"] = [
        o for o in data["orders"] if (o.get("allocation") or {}).get("node") != gone_node
    ]
    data["carriers"] = data["carriers"][:1]
    services = {s["id"] for s in data["carriers"][0]["services"]}
    for order in data["orders"]:
        if order["allocation"] and order["allocation"]["carrier_service"] not in services:
            order["allocation"] = None
            order["status"] = "open"
    smaller = NetworkSnapshot.model_validate(data)
    store.load_snapshot(smaller)
    assert dump_snapshot(store.export_snapshot()) == dump_snapshot(smaller)


def test_a_failing_load_writes_nothing(
    store: Store, northeast: NetworkSnapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.load_snapshot(northeast)
    before = dump_snapshot(store.export_snapshot())
    data = northeast.model_dump(mode="json")
    data["as_of"] = "2026-11-25T00:00:00Z"
    data["orders"] = data["orders"][:2]
    data["nodes"][0]["backlog_units"] = 1
    changed = NetworkSnapshot.model_validate(data)

    def boom(*_args: object) -> None:
        raise RuntimeError("connection lost half-way")

    monkeypatch.setattr(snapshots_module, "_delete_ids", boom)
    with pytest.raises(RuntimeError, match="half-way"):
        store.load_snapshot(changed)
    assert dump_snapshot(store.export_snapshot()) == before


def test_a_snapshot_the_database_refuses_writes_nothing(
    store: Store, northeast: NetworkSnapshot
) -> None:
    """Even a snapshot that slipped past validation (model_construct) cannot break the
    database's own rules, and the refused load leaves the previous network intact."""
    store.load_snapshot(northeast)
    before = dump_snapshot(store.export_snapshot())
    bad = northeast.model_copy(
        update={
            "inventory": [
                InventoryPosition.model_construct(
                    node="DC-NJ", sku="SKU-TENT", on_hand=1, reserved=5, safety_stock=0
                )
            ]
        }
    )
    with pytest.raises(IntegrityError):
        store.load_snapshot(bad)
    assert dump_snapshot(store.export_snapshot()) == before


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d["nodes"][2].__setitem__("capacity_units_per_day", -5), "nodes[2]"),
        (lambda d: d["orders"][0]["lines"][0].__setitem__("qty", 0), "orders[0].lines[0].qty"),
        (lambda d: d["inventory"][0].__setitem__("sku", "SKU-NOPE"), "inventory[0].sku"),
        (lambda d: d.__setitem__("as_of", "yesterday"), "as_of"),
        (lambda d: d["skus"][0].__setitem__("colour", "red"), "skus[0].colour"),
    ],
)
def test_a_malformed_file_names_the_field_and_writes_nothing(
    sqlite_store: Store, northeast_path: Path, tmp_path: Path, mutate, field: str
) -> None:
    data = json.loads(northeast_path.read_text())
    mutate(data)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(InputError) as info:
        sqlite_store.load_file(bad)
    assert field in str(info.value)
    assert not sqlite_store.has_network()


def test_an_empty_store_says_so(store: Store) -> None:
    assert not store.has_network()
    with pytest.raises(NoNetwork, match="execlayer load"):
        store.export_snapshot()
    with pytest.raises(NoNetwork):
        store.view()
    assert store.get_order("O-1001") is None
    assert store.orders_in_scope(node="DC-NJ") == []


def test_view_holds_what_a_decision_needs(northeast_store: Store) -> None:
    everything = northeast_store.view()
    assert len(everything.orders) == 5 and len(everything.inventory) == 17

    view = northeast_store.view(["O-1001", "O-NOPE"])
    assert list(view.orders) == ["O-1001"]
    skus = {line.sku for line in view.orders["O-1001"].lines}
    assert {p.sku for p in view.snapshot.inventory} == skus
    assert len(view.snapshot.inventory) == sum(
        1 for p in everything.snapshot.inventory if p.sku in skus
    )
    assert len(view.nodes) == 10 and len(view.carriers) == 3 and len(view.skus) == 5

    empty = northeast_store.view([])
    assert not empty.orders and not empty.snapshot.inventory and len(empty.nodes) == 10


def test_view_merges_learned_posteriors(northeast_store: Store) -> None:
    northeast_store.record_delivery("PARCELCO", "NE", on_time=False, key="d1")
    northeast_store.record_pick("STORE-BOS", 10, 5, key="p1")
    view = northeast_store.view(["O-1001"])
    assert view.reliability("PARCELCO", "NE") < view.carriers["PARCELCO"].on_time_rate
    assert view.accuracy("STORE-BOS") < view.nodes["STORE-BOS"].inventory_accuracy
    assert view.reliability("PARCELCO", "SE") == view.carriers["PARCELCO"].on_time_rate


def _scope_truth(snapshot: NetworkSnapshot, **filters: str) -> list[str]:
    services = {s.id: c.id for c in snapshot.carriers for s in c.services}
    regions = {n.id: n.region for n in snapshot.nodes}
    found = []
    for order in snapshot.orders:
        alloc = order.allocation
        if "node" in filters and (alloc is None or alloc.node != filters["node"]):
            continue
        if "carrier" in filters and (
            alloc is None or services[alloc.carrier_service] != filters["carrier"]
        ):
            continue
        if "region" in filters and not (
            order.ship_to.region == filters["region"]
            or (alloc is not None and regions[alloc.node] == filters["region"])
        ):
            continue
        if "sku" in filters and filters["sku"] not in {line.sku for line in order.lines}:
            continue
        found.append(order.id)
    return found


SCOPES = [
    {"node": "STORE-BOS"},
    {"node": "3PL-EAST"},
    {"carrier": "PARCELCO"},
    {"carrier": "SWIFT"},
    {"region": "NE"},
    {"region": "SE"},
    {"sku": "SKU-TENT"},
    {"sku": "SKU-KAYAK"},
    {"carrier": "PARCELCO", "sku": "SKU-TENT"},
    {"node": "DC-NJ", "region": "NE", "sku": "SKU-LANTERN"},
    {"node": "NOWHERE"},
]


def test_orders_in_scope_ands_its_filters(
    northeast_store: Store, northeast: NetworkSnapshot
) -> None:
    for filters in SCOPES:
        found = northeast_store.orders_in_scope(statuses=None, **filters)
        assert found == _scope_truth(northeast, **filters), filters
    assert northeast_store.orders_in_scope(statuses=None) == [o.id for o in northeast.orders]


def test_orders_in_scope_filters_statuses(northeast_store: Store) -> None:
    northeast_store.set_order_status("O-1001", OrderStatus.SHIPPED, key="ship-1")
    actionable = northeast_store.orders_in_scope(sku="SKU-TENT")
    assert "O-1001" not in actionable
    assert "O-1001" in northeast_store.orders_in_scope(sku="SKU-TENT", statuses=None)
    assert northeast_store.orders_in_scope(statuses=[OrderStatus.SHIPPED]) == ["O-1001"]


def test_export_shows_the_network_as_mutated(northeast_store: Store) -> None:
    northeast_store.add_backlog("STORE-BOS", 25, key="bl")
    northeast_store.reserve("r1", "DC-NJ", "SKU-TENT", 2)
    snap = northeast_store.export_snapshot()
    view = northeast_store.view()
    node = next(n for n in snap.nodes if n.id == "STORE-BOS")
    assert node.backlog_units == view.nodes["STORE-BOS"].backlog_units
    position = view.position("DC-NJ", "SKU-TENT")
    assert position is not None
    assert parse(NetworkSnapshot, dump_snapshot(snap), "x") == snap


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"type": "meteor"}, "type"),
        ({"occurred_at": "soon"}, "occurred_at"),
        ({"orders": "O-1001"}, "orders"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_malformed_event_names_the_field_and_registers_nothing(
    sqlite_store: Store, examples_dir: Path, tmp_path: Path, change: dict, field: str
) -> None:
    data = json.loads((examples_dir / "events" / "EX-P1.json").read_text())
    data.update(change)
    bad = tmp_path / "event.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(InputError) as info:
        sqlite_store.register_exception(load_event(bad))
    assert field in str(info.value)
    assert sqlite_store.list_exceptions() == []


def test_refresh_to_the_same_instant_written_differently_exports_the_new_text(
    store: Store, northeast: NetworkSnapshot
) -> None:
    store.load_snapshot(northeast)
    data = northeast.model_dump(mode="json")
    same_instant = northeast.orders[0].promised_by.astimezone(timezone(timedelta(hours=2)))
    data["orders"][0]["promised_by"] = same_instant.isoformat()
    assert data["orders"][0]["promised_by"].endswith("+02:00")
    rewritten = NetworkSnapshot.model_validate(data)
    assert rewritten.orders[0].promised_by == northeast.orders[0].promised_by
    report = store.load_snapshot(rewritten)
    assert report.changes["orders"].updated == 1
    assert dump_snapshot(store.export_snapshot()) == dump_snapshot(rewritten)
