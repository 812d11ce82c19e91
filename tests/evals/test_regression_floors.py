"""CI floors: the agent on a seeded subset of the committed regression dataset must keep its
promise-kept and expected-pass rates above the recorded floors, with no guardrail violation.

The full dataset runs with `execlayer eval run --dataset evals/datasets/regression.jsonl`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from evals.cases import read_cases, write_cases
from evals.metrics import compute
from evals.replay import replay

DATASETS = Path(__file__).resolve().parents[2] / "evals" / "datasets"
FLOORS = json.loads((DATASETS / "regression-floors.json").read_text())


@pytest.fixture(scope="module")
def subset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cases = list(read_cases(DATASETS / "regression.jsonl"))
    picked = [c for i, c in enumerate(cases) if i % FLOORS["subset_every"] == 0]
    folder = tmp_path_factory.mktemp("regression")
    for c in picked:  # network_ref is relative to the dataset: make it absolute
        assert c.network_ref is not None
        c.network_ref = str((DATASETS / c.network_ref).resolve())
    write_cases(folder / "subset.jsonl", picked)
    return folder / "subset.jsonl"


def test_regression_dataset_covers_every_family() -> None:
    cases = list(read_cases(DATASETS / "regression.jsonl"))
    families = {c.family for c in cases}
    assert families == {
        "surge",
        "disruption",
        "partner",
        "stockout",
        "cutoff",
        "sla_risk",
        "injection",
    }
    assert len(cases) >= 200
    assert all(c.expected is not None for c in cases)


def test_agent_stays_above_the_recorded_floors(subset: Path) -> None:
    results = replay(subset, ["agent"], seed=FLOORS["outcome_seed"], console=Console(quiet=True))
    agent = compute(results)["agent"].overall
    assert agent.errors == 0
    assert agent.guardrail_violations == FLOORS["guardrail_violations"] == 0
    assert agent.expected_pass_rate is not None
    assert agent.expected_pass_rate >= FLOORS["expected_pass_rate"], agent
    assert agent.promise_kept_rate >= FLOORS["promise_kept_rate"], agent
