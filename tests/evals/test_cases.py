"""Replay cases load from the contract's examples and survive a write/read round trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.cases import ReplayCase, read_cases, write_cases
from tools.inputs import InputError


def test_public_cases_load_and_round_trip(examples_dir: Path, tmp_path: Path) -> None:
    cases = list(read_cases(examples_dir / "cases-public.jsonl"))
    assert {c.family for c in cases} >= {"surge", "disruption", "partner", "stockout", "injection"}
    out = tmp_path / "again.jsonl"
    assert write_cases(out, cases) == len(cases)
    again = list(read_cases(out))
    assert [c.model_dump() for c in again] == [c.model_dump() for c in cases]


def test_network_ref_is_relative_to_the_dataset(examples_dir: Path, tmp_path: Path) -> None:
    first = json.loads((examples_dir / "cases-public.jsonl").read_text().splitlines()[0])
    (tmp_path / "nets").mkdir()
    (tmp_path / "nets/n.json").write_text(json.dumps(first.pop("network")))
    first["network_ref"] = "nets/n.json"
    case = ReplayCase.model_validate(first)
    assert case.resolved_network(tmp_path).nodes


def test_a_bad_line_names_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('\n{"id": "x"}\n')
    with pytest.raises(InputError, match=r"bad.jsonl:2"):
        list(read_cases(bad))
