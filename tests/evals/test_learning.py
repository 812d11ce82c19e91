"""The learning curve: a reduced, seeded run where learning must clearly beat not learning."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from xml.etree import ElementTree

import pytest
from typer.testing import CliRunner

from api.cli import app
from evals.learning import LearningCurve, RunResult, learning_curve, replay_policy
from evals.learning_delivery import Shipment, deliver
from evals.learning_report import curve_svg, write_reports
from evals.learning_scenario import LearningConfig, build_scenario, true_reliability

# All orders to the degraded region, 4 exceptions a day (outcomes arrive ~2 days later),
# the degradation after 30 % of the stream: the learner has time to notice in 60 cases.
SMALL = LearningConfig(n=60, seed=1, window=20, degrade_at=0.3, ne_share=1.0, events_per_day=4)


@pytest.fixture(scope="module")
def small_curve(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[LearningCurve, RunResult, RunResult]:
    return learning_curve(SMALL, workdir=tmp_path_factory.mktemp("learn"))


def test_learning_recovers_where_not_learning_does_not(
    small_curve: tuple[LearningCurve, RunResult, RunResult],
) -> None:
    curve, learn, static = small_curve
    # Same decisions while nothing has gone wrong yet ...
    cut = SMALL.degrade_index
    assert [c.carrier_service for c in learn.cases[:10]] == [
        c.carrier_service for c in static.cases[:10]
    ]
    assert curve.learning_kept_before == curve.static_kept_before
    # ... then the learner moves off the degraded lane and keeps clearly more promises.
    assert curve.learning_kept_after >= curve.static_kept_after + 0.15
    assert curve.learning_kept_last_windows >= curve.static_kept_last_windows + 0.2
    last = learn.cases[-15:]
    assert sum(c.carrier_service.startswith("PARCELCO-") for c in last if c.carrier_service) <= 3
    assert all(
        c.carrier_service and c.carrier_service.startswith("PARCELCO-") for c in static.cases[cut:]
    ), "without learning the agent keeps trusting the record"
    # The path exercised is the real one: outcomes moved the lane's Beta posterior.
    assert curve.outcomes_recorded > 30
    assert curve.final_posteriors["PARCELCO/NE"] < 0.85
    assert static.outcomes_recorded == 0 and static.final_posteriors == {}
    assert all(c.status in ("auto_resolved", "resolved") for c in learn.cases + static.cases)


def test_reports_are_written_with_a_chart(
    small_curve: tuple[LearningCurve, RunResult, RunResult], tmp_path: Path
) -> None:
    curve, _, _ = small_curve
    written = write_reports(curve, tmp_path, "execlayer eval learn --n 60")
    assert {p.name for p in written} == {"curve.json", "curve.svg", "report.md", "report.html"}
    svg = curve_svg(curve)
    root = ElementTree.fromstring(svg)  # well-formed, one line per series
    assert root.tag.endswith("svg") and svg.count('class="line reactive') >= 3
    assert svg.startswith("<svg") and "learning on" in svg and "src=" not in svg
    html = (tmp_path / "report.html").read_text()
    assert "<svg" in html and "execlayer eval learn --n 60" in html
    assert LearningCurve.model_validate_json((tmp_path / "curve.json").read_text()) == curve


def test_scenario_is_seeded_and_the_promises_are_tight() -> None:
    a, b = build_scenario(SMALL), build_scenario(SMALL)
    assert a.snapshot == b.snapshot and a.stream == b.stream
    assert build_scenario(SMALL.model_copy(update={"seed": 2})).snapshot != a.snapshot
    assert {i.family for i in a.stream} == {"sla_risk", "cutoff_missed", "carrier_disruption"}
    times = [i.event.occurred_at for i in a.stream]
    assert times == sorted(times)
    assert sum(i.degraded for i in a.stream) == SMALL.n - SMALL.degrade_index
    truth = a.stream[-1].truth(SMALL)
    assert truth.carrier_on_time["PARCELCO/NE"] == SMALL.reliability_after
    assert true_reliability(SMALL, False)["PARCELCO/NE"] == SMALL.reliability_before
    assert replay_policy().rate_limit.max_autonomous_actions_per_node_per_hour is None


def test_delivery_follows_the_truth() -> None:
    scenario = build_scenario(SMALL)
    order = scenario.snapshot.orders[0]
    assert order.allocation is not None
    eta = order.promised_by - timedelta(hours=2)
    shipment = Shipment(order.allocation.node, "PARCELCO", "PARCELCO-GROUND", eta)
    truth = {"PARCELCO/NE": 0.5}
    on_eta = deliver(shipment, order, scenario.snapshot, truth, False, (0.49, 3.0))
    assert on_eta.on_time and on_eta.arrived_at == eta
    late = deliver(shipment, order, scenario.snapshot, truth, False, (0.51, 0.0))
    assert not late.on_time and late.arrived_at is not None and late.arrived_at > eta
    # A disrupted lane halves the true rate: the same draw is now late.
    assert not deliver(shipment, order, scenario.snapshot, truth, True, (0.3, 0.0)).on_time


def test_config_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        LearningConfig(n=5)
    with pytest.raises(ValueError):
        LearningConfig(degrade_at=1.5)


def test_cli_learn_refuses_a_tiny_stream() -> None:
    result = CliRunner().invoke(app, ["eval", "learn", "--n", "3"])
    assert result.exit_code == 2
    result = CliRunner().invoke(app, ["eval", "learn", "--degrade-at", "1.5"])
    assert result.exit_code == 2 and "degrade_at" in result.output
