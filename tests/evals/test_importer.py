"""Importing an OMS export as replay cases: the mapping, the history, the truth, the errors."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from evals.cases import read_cases
from evals.export_format import Mapping, load_mapping
from evals.importer import ExportFiles, import_export
from tools.inputs import InputError

SAMPLE = Path(__file__).resolve().parents[2] / "evals" / "datasets" / "oms_sample"


def sample_import() -> list:
    mapping = load_mapping(SAMPLE / "mapping.yaml")
    return import_export(ExportFiles.in_folder(SAMPLE, mapping), mapping).cases


def test_sample_export_becomes_cases_with_history_and_truth(tmp_path: Path) -> None:
    mapping = load_mapping(SAMPLE / "mapping.yaml")
    report = import_export(ExportFiles.in_folder(SAMPLE, mapping), mapping)
    assert report.exceptions == len(report.cases) == 16
    assert report.orders == 16 and report.with_action == 16 and report.with_outcome == 16
    assert set(report.by_family) >= {"surge", "cutoff", "partner", "stockout", "disruption"}
    cases = {c.event.id: c for c in report.cases}
    first = cases["EX-H01"]
    # Naive export times are America/New_York: 14:00 local is 19:00 UTC.
    assert first.event.occurred_at == datetime(2026, 11, 20, 19, 0, tzinfo=UTC)
    assert first.event.type.value == "node_overload" and first.event.details == {
        "backlog_units": 1300
    }
    assert first.history is not None
    assert (first.history.action_type, first.history.node, first.history.carrier_service) == (
        "reallocate",
        "DC-NJ",
        "SWIFT-GROUND",
    )
    assert first.history.outcome == "on_time" and first.history.decided_by == "jdoe"
    assert first.network is not None and [o.id for o in first.network.orders] == ["H-2001"]
    assert first.network.as_of == first.event.occurred_at
    two_lines = cases["EX-H04"].network
    assert two_lines is not None and len(two_lines.orders[0].lines) == 2
    assert cases["EX-H04"].history.outcome == "cancelled"  # type: ignore[union-attr]
    assert cases["EX-H10"].network.orders[0].customer_tier.value == "b2b_contract"  # type: ignore[union-attr]
    assert cases["EX-H03"].truth.partner_accepts == {"3PL-EAST": False}
    late = cases["EX-H07"].history
    assert (
        late is not None
        and late.outcome == "late"
        and (late.model_extra or {}).get("days_late") == 2.0
    )
    # Lanes with 3+ outcomes get a (Laplace-smoothed) empirical on-time truth.
    assert set(first.truth.carrier_on_time) == {"PARCELCO/NE", "SWIFT/NE"}
    assert 0.0 < first.truth.carrier_on_time["SWIFT/NE"] < 1.0
    # What is written reads back as the same cases (contract section 5).
    out = tmp_path / "cases.jsonl"
    result = CliRunner().invoke(app, ["eval", "import", str(SAMPLE), "--out", str(out)])
    assert result.exit_code == 0, result.output
    again = list(read_cases(out))
    assert [c.model_dump() for c in again] == [c.model_dump() for c in report.cases]


def _canonical_export(folder: Path) -> None:
    """A minimal export in the canonical format: JSONL orders, CSV exceptions, no mapping."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(SAMPLE / "network.json", folder / "network.json")
    orders = [
        {
            "order_id": "A-1",
            "sku": "SKU-TENT",
            "qty": 1,
            "unit_price": 189.0,
            "created_at": "2026-11-20T09:00:00Z",
            "promised_by": "2026-11-23T23:59:00Z",
            "ship_lat": 42.34,
            "ship_lon": -71.09,
            "ship_region": "NE",
            "node": "STORE-BOS",
            "carrier_service": "PARCELCO-GROUND",
        },
        {
            "order_id": "A-2",
            "sku": "SKU-LANTERN",
            "qty": 2,
            "unit_price": 29.0,
            "created_at": "2026-11-20T09:30:00Z",
            "promised_by": "2026-11-24T23:59:00Z",
            "ship_lat": 40.71,
            "ship_lon": -74.0,
            "ship_region": "NE",
            "node": "DC-NJ",
            "carrier_service": "SWIFT-GROUND",
        },
    ]
    # The second order carries its lines nested, as JSON exports often do.
    second = orders[1]
    second["lines"] = [
        {
            "sku": second.pop("sku"),
            "qty": second.pop("qty"),
            "unit_price": second.pop("unit_price"),
        },
        {"sku": "SKU-TENT", "qty": 1, "unit_price": 189.0},
    ]
    (folder / "orders.jsonl").write_text("".join(json.dumps(o) + "\n" for o in orders))
    (folder / "exceptions.csv").write_text(
        "exception_id,type,occurred_at,order_ids,node,carrier,region\n"
        "E-1,sla_risk,2026-11-20T12:00:00Z,A-1,STORE-BOS,,\n"
        "E-2,carrier_disruption,2026-11-20T13:00:00Z,,,SWIFT,NE\n"
    )


def test_canonical_format_needs_no_mapping_and_actions_are_optional(tmp_path: Path) -> None:
    _canonical_export(tmp_path)
    report = import_export(ExportFiles.in_folder(tmp_path, Mapping()), Mapping())
    cases = {c.event.id: c for c in report.cases}
    assert cases["E-1"].history is not None and cases["E-1"].history.action_type is None
    # A scoped event (no orders) takes the export's orders in its reach: SWIFT, NE.
    scoped = cases["E-2"].network
    assert scoped is not None and [o.id for o in scoped.orders] == ["A-2"]
    assert [(line.sku, line.qty) for line in scoped.orders[0].lines] == [
        ("SKU-LANTERN", 2),
        ("SKU-TENT", 1),
    ]
    assert cases["E-1"].family == "sla_risk" and cases["E-2"].family == "disruption"


def test_every_bad_row_is_named_and_nothing_is_written(tmp_path: Path) -> None:
    export = tmp_path / "export"
    shutil.copytree(SAMPLE, export)
    orders = (export / "orders.csv").read_text().splitlines()
    orders[3] = orders[3].replace(",1,650.00,", ",two,650.00,").replace("SKU-KAYAK", "SKU-CANOE")
    (export / "orders.csv").write_text("\n".join(orders) + "\n")
    actions = (export / "actions.csv").read_text().replace("Upgrade Shipping", "Teleport", 1)
    (export / "actions.csv").write_text(actions)
    outcomes = (
        (export / "outcomes.csv").read_text().replace("Delivered Late,1,", "Delivered Late,-1,", 1)
    )
    (export / "outcomes.csv").write_text(outcomes)
    out = tmp_path / "cases.jsonl"
    out.write_text("previous content\n")
    result = CliRunner().invoke(app, ["eval", "import", str(export), "--out", str(out)])
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "orders.csv:4: column 'Qty': 'two' is not an integer" in text
    assert "orders.csv:4: column 'Line SKU': unknown sku 'SKU-CANOE'" in text
    assert "actions.csv:7: column 'Action': 'Teleport' is not one of" in text
    assert "values.action_type" in text
    assert "outcomes.csv:3: column 'Days Late': must not be negative" in text
    assert "nothing written" in text
    assert out.read_text() == "previous content\n"


def test_missing_column_and_bad_mapping_are_refused(tmp_path: Path) -> None:
    _canonical_export(tmp_path)
    (tmp_path / "exceptions.csv").write_text("exception_id,type\nE-1,sla_risk\n")
    with pytest.raises(InputError) as caught:
        import_export(ExportFiles.in_folder(tmp_path, Mapping()), Mapping())
    assert any("missing required column(s): occurred_at" in p for p in caught.value.problems)
    bad = tmp_path / "mapping.yaml"
    bad.write_text('columns:\n  orders:\n    order_number: "No"\ntimezone: Mars/Olympus\n')
    with pytest.raises(InputError) as caught:
        load_mapping(bad)
    problems = " ".join(caught.value.problems)
    assert "columns.orders.order_number: unknown field" in problems
    assert "unknown time zone 'Mars/Olympus'" in problems
    bad.write_text("colums: {}\n")
    with pytest.raises(InputError, match="colums"):
        load_mapping(bad)
    bad.write_text("columns:\n  orders:\n    order_id: No\n")  # YAML reads No as false
    with pytest.raises(InputError, match=r"columns\.orders\.order_id"):
        load_mapping(bad)


def test_duplicate_and_dangling_references(tmp_path: Path) -> None:
    _canonical_export(tmp_path)
    (tmp_path / "exceptions.csv").write_text(
        "exception_id,type,occurred_at,order_ids\n"
        "E-1,sla_risk,2026-11-20T12:00:00Z,A-1\n"
        "E-1,sla_risk,2026-11-20T12:00:00Z,A-9\n"
        "E-3,sla_risk,yesterday,A-1\n"
    )
    (tmp_path / "actions.csv").write_text(
        "exception_id,order_id,action_type,node\nE-7,A-1,hold,STORE-XYZ\n"
    )
    (tmp_path / "outcomes.csv").write_text("order_id,exception_id,outcome\nA-1,E-8,late\n")
    with pytest.raises(InputError) as caught:
        import_export(ExportFiles.in_folder(tmp_path, Mapping()), Mapping())
    problems = "\n".join(caught.value.problems)
    assert "outcomes.csv:2: column 'exception_id': unknown exception 'E-8'" in problems
    assert "exceptions.csv:3: column 'order_ids': unknown order 'A-9'" in problems
    assert "exceptions.csv:3: column 'exception_id': duplicate exception id 'E-1'" in problems
    assert "exceptions.csv:4: column 'occurred_at': 'yesterday' is not an ISO 8601 time" in problems
    assert "actions.csv:2: column 'exception_id': unknown exception 'E-7'" in problems
    assert "actions.csv:2: column 'node': unknown node 'STORE-XYZ'" in problems
