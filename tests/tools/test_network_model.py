from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools.events import ExceptionEvent
from tools.inputs import InputError, load_event, load_snapshot, parse
from tools.network import NetworkSnapshot, dump_snapshot


def test_example_snapshot_round_trips_byte_for_byte(northeast_path: Path) -> None:
    raw = northeast_path.read_text()
    snapshot = load_snapshot(northeast_path)
    assert dump_snapshot(snapshot) == raw
    assert dump_snapshot(parse(NetworkSnapshot, dump_snapshot(snapshot), "x")) == raw


def test_every_example_event_parses(examples_dir: Path) -> None:
    files = sorted((examples_dir / "events").glob("*.json"))
    assert files, "no example events found"
    for path in files:
        event = load_event(path)
        assert event.id == path.stem


def test_every_public_case_network_and_event_parse(examples_dir: Path) -> None:
    lines = (examples_dir / "cases-public.jsonl").read_text().splitlines()
    assert lines
    for line in lines:
        case = json.loads(line)
        NetworkSnapshot.model_validate(case["network"])
        ExceptionEvent.model_validate(case["event"])


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (
            lambda d: d["nodes"][2].__setitem__("capacity_units_per_day", -5),
            "nodes[2].capacity_units_per_day",
        ),
        (lambda d: d["nodes"][0].__setitem__("kind", "warehouse"), "nodes[0].kind"),
        (lambda d: d["orders"][0]["lines"][0].__setitem__("qty", 0), "orders[0].lines[0].qty"),
        (lambda d: d["skus"][0].__setitem__("weight", 1.0), "skus[0].weight"),
        (lambda d: d["inventory"][0].__setitem__("sku", "SKU-NOPE"), "inventory[0].sku"),
        (
            lambda d: d["orders"][1]["allocation"].__setitem__("node", "NOWHERE"),
            "orders[1].allocation.node",
        ),
        (lambda d: d.__setitem__("as_of", "yesterday"), "as_of"),
        (lambda d: d["inventory"][2].__setitem__("reserved", 99), "STORE-BOS/SKU-TENT"),
    ],
)
def test_malformed_snapshot_names_the_field(northeast_path: Path, mutate, field: str) -> None:
    data = json.loads(northeast_path.read_text())
    mutate(data)
    with pytest.raises(InputError) as info:
        parse(NetworkSnapshot, json.dumps(data), "network snapshot")
    assert field in str(info.value)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "short_pick", "occurred_at": "2026-11-24T09:05:00Z", "orders": ["O-1"]}, "id"),
        (
            {
                "id": "E1",
                "type": "meteor",
                "occurred_at": "2026-11-24T09:05:00Z",
                "orders": ["O-1"],
            },
            "type",
        ),
        (
            {
                "id": "E1",
                "type": "short_pick",
                "occurred_at": "2026-11-24T09:05:00",
                "orders": ["O-1"],
            },
            "occurred_at",
        ),
        ({"id": "E1", "type": "short_pick", "occurred_at": "2026-11-24T09:05:00Z"}, "scope"),
        ({"id": "E1", "type": "unstructured", "occurred_at": "2026-11-24T09:05:00Z"}, "text"),
        (
            {"id": "E 1", "type": "stockout", "occurred_at": "2026-11-24T09:05:00Z", "sku": "S"},
            "id",
        ),
        (
            {
                "id": "E1",
                "type": "stockout",
                "occurred_at": "2026-11-24T09:05:00Z",
                "sku": "S",
                "txt": "x",
            },
            "txt",
        ),
    ],
)
def test_malformed_event_names_the_problem(body: dict, field: str) -> None:
    with pytest.raises(InputError) as info:
        parse(ExceptionEvent, json.dumps(body), "exception event")
    assert field in str(info.value)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_snapshot(tmp_path / "absent.json")
