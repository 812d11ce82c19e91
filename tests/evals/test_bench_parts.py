"""`evals.bench_parts` at a tiny size: every part measured, wrappers gone afterwards."""

from __future__ import annotations

import json

import pytest

import agents.act
import agents.graph
from agents.checkpoints import SqliteCheckpointer
from evals.bench_parts import PARTS, main, part_costs
from tools.store import Store


def test_every_part_is_measured_and_the_wrappers_are_removed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    view_before = Store.__dict__["view"]
    main(["--n", "4", "--warmup", "1", "--nodes", "8", "--json"])
    report = json.loads(capsys.readouterr().out)
    parts = {p["part"]: p for p in report["parts"]}
    assert list(parts) == [label for _, _, label in PARTS]
    for step in ("perceive", "decide", "guard", "act", "learn"):
        assert parts[f"step {step}"]["ms_per_decision"] > 0
    for step in ("perceive", "decide", "guard"):  # act / learn: not while awaiting approval
        assert parts[f"step {step}"]["calls_per_decision"] == 1
    # Checkpoints are written from LangGraph's background thread: still counted.
    assert parts["checkpoint put"]["calls_per_decision"] >= 5
    assert parts["checkpoint put"]["ms_per_decision"] > 0
    assert parts["store view (network read)"]["calls_per_decision"] >= 1
    assert report["decision_cpu_ms_p50"] > 0
    # Statements counted per decision, by kind.
    kinds = report["statements"]
    assert kinds["SELECT"] > 0 and kinds["INSERT exceptions"] == 1
    # Run on the driver by DriverStatements (tools.store.driver_statements): counted all the same.
    assert kinds["INSERT effects"] > 0 and kinds["UPDATE effects"] > 0
    assert report["statements_per_decision"] == pytest.approx(sum(kinds.values()), abs=0.2)
    assert agents.graph.act is agents.act.act
    assert "put" not in vars(SqliteCheckpointer)  # inherited: the wrapper was deleted
    assert Store.__dict__["view"] is view_before


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="n >= 1"):
        part_costs(n=0)
