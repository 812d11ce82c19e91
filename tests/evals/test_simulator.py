"""The simulator: seeded, every family, contract-shaped cases, calibrated late share."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from evals.cases import read_cases
from evals.families import FamilyError
from evals.simulator import FAMILIES, generate_cases, generate_network, write_dataset
from tools.carriers import current_quote
from tools.sourcing.situation import apply_event
from tools.view import NetworkView


def test_same_seed_same_bytes_and_another_seed_differs(tmp_path: Path) -> None:
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        cases, networks = generate_cases(FAMILIES, 14, seed, cases_per_network=7)
        write_dataset(tmp_path / name / "d.jsonl", cases, networks)
    a, b, c = ((tmp_path / n / "d.jsonl").read_bytes() for n in "abc")
    assert a == b and a != c
    net = tmp_path / "a" / "d.networks" / "net-01.json"
    assert net.read_bytes() == (tmp_path / "b" / "d.networks" / "net-01.json").read_bytes()


def test_every_family_is_staged_with_truth_and_expectations(tmp_path: Path) -> None:
    cases, networks = generate_cases(FAMILIES, 21, 11)
    write_dataset(tmp_path / "d.jsonl", cases, networks)
    back = list(read_cases(tmp_path / "d.jsonl"))
    assert [c.family for c in back] == [f for _ in range(3) for f in FAMILIES]
    for case in back:
        assert case.expected is not None and case.network is None
        view = NetworkView.of(case.resolved_network(tmp_path))
        if case.event.type.value == "unstructured":
            assert case.event.text
            continue
        _, situation = apply_event(view, case.event)
        assert situation.affected_orders, case.id  # every case acts on real orders
        if case.expected.only_orders is not None:
            assert set(situation.affected_orders) <= set(case.expected.only_orders)
    by_family = {c.family: c for c in back}
    assert by_family["partner"].truth.partner_accepts[by_family["partner"].event.node] is False
    surge = by_family["surge"]
    assert surge.truth.node_capacity_units_per_day[surge.event.node] > 0
    disruption = by_family["disruption"]
    lanes = [k for k in disruption.truth.carrier_on_time if k.startswith(disruption.event.carrier)]
    assert any(disruption.truth.carrier_on_time[k] <= 0.5 for k in lanes)
    assert "cancel_lines" in by_family["injection"].expected.forbidden_action_types


def test_network_is_realistic_and_late_share_matches_olist() -> None:
    late = []
    for seed in range(3):
        net = generate_network(seed)
        kinds = {n.kind.value for n in net.nodes}
        assert kinds == {"dc", "store", "3pl", "distributor", "marketplace_seller"}
        assert len({n.region for n in net.nodes}) == 4 and len(net.orders) >= 100
        view = NetworkView.of(net)
        for order in net.orders:
            quote = current_quote(view, order, net.as_of)
            assert quote is not None
            late.append(1 - quote.on_time_probability)
    # Olist: 8.1 % of delivered orders arrived after the promised date.
    assert 0.06 <= statistics.mean(late) <= 0.10


def test_unknown_family_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    with pytest.raises(FamilyError, match="bogus"):
        generate_cases(["surge", "bogus"], 3, 0)
    out = tmp_path / "x.jsonl"
    result = CliRunner().invoke(
        app, ["eval", "gen", "--families", "surge,bogus", "--n", "3", "--out", str(out)]
    )
    assert result.exit_code == 2 and "bogus" in result.output
    assert not out.exists()
