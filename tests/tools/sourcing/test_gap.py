"""OR-Library GAP files: parsing, solving small instances to their known optima, the CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from tools.sourcing.gap import (
    GapFormatError,
    find_bounds,
    load_bounds,
    parse_gap,
    read_gap_file,
    solve_gap,
)

DATA = Path(__file__).resolve().parents[2] / "data" / "gap"
TINY = "2 3\n1 2 3\n4 5 6\n1 1 1\n1 1 1\n2 2\n"


def test_parse_a_single_problem_line_breaks_do_not_matter() -> None:
    (one,) = parse_gap(TINY, "tiny")
    (same,) = parse_gap(" ".join(TINY.split()), "tiny")
    assert (one.agents, one.jobs, one.name) == (2, 3, "tiny")
    assert one.cost.tolist() == [[1, 2, 3], [4, 5, 6]] == same.cost.tolist()
    assert one.capacity.tolist() == [2, 2]


def test_parse_a_multi_problem_file() -> None:
    text = "2\n" + TINY + TINY.replace("1 2 3", "7 8 9")
    first, second = parse_gap(text, "gapx")
    assert (first.name, second.name) == ("gapx-1", "gapx-2")
    assert second.cost[0].tolist() == [7, 8, 9]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty or truncated"),
        ("2 3 1 2 x", "token 5 ('x') is not a number"),
        ("2 3 1 2 3", "as one 2 x 3 problem it needs 16 numbers, found 5"),
        ("1\n" + TINY + " 99", "1 numbers left after the 1 problems"),
        ("2 3 " + "1 " * 12 + "-1 1", "must be >= 0"),
    ],
)
def test_bad_files_say_where(text: str, message: str) -> None:
    with pytest.raises(GapFormatError, match=re.escape(message)):
        parse_gap(text, "bad")


def test_bounds_file() -> None:
    bounds = load_bounds(DATA / "bounds.txt")
    assert bounds["c0515_1_Min"] == (261.0, 261.0)
    assert find_bounds(DATA / "c0515_1.txt") == bounds


@pytest.mark.parametrize("index", [1, 2, 3, 4, 5])
def test_small_instances_reach_their_known_optimum(index: int) -> None:
    path = DATA / f"c0515_{index}.txt"
    (instance,) = read_gap_file(path)
    result = solve_gap(instance, time_limit_s=10.0, bounds=find_bounds(path))
    assert result.feasible and result.optimal
    assert result.objective == result.best_known
    assert result.gap_to_best_known_pct == 0.0
    assert result.lower_bound is not None and result.lower_bound <= result.objective + 1e-6


def test_plain_highs_mip_as_the_comparison() -> None:
    (instance,) = read_gap_file(DATA / "c0515_3.txt")
    result = solve_gap(instance, time_limit_s=10.0, solver="highs-mip")
    assert result.objective == 256.0 and result.method == "highs-mip"
    with pytest.raises(ValueError, match="solver must be one of"):
        solve_gap(instance, solver="cplex")


def test_cli_prints_one_json_object_per_instance(tmp_path: Path) -> None:
    multi = tmp_path / "two.txt"
    multi.write_text("2\n" + TINY + TINY, encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["eval", "gap", str(DATA / "c0515_1.txt"), str(multi), "--time-limit", "5", "--json"],
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert [r["instance"] for r in rows] == ["c0515_1", "two-1", "two-2"]
    for row in rows:
        assert {"instance", "objective", "seconds", "feasible", "lower_bound"} <= set(row)
        # Kernel compile (or cache load) time, reported apart from the solve's seconds.
        assert row["compile_seconds"] is not None and row["compile_seconds"] >= 0.0
    assert rows[0]["objective"] == 261.0 and rows[0]["best_known"] == 261.0
    assert rows[1]["objective"] == 9.0  # jobs 1-3 on agent 1 would need capacity 3


def test_cli_table_and_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    table = runner.invoke(
        app, ["eval", "gap", str(DATA / "c0515_2.txt"), "--time-limit", "5", "--compare-highs"]
    )
    assert table.exit_code == 0 and "c0515_2" in table.stdout and "plain HiGHS" in table.stdout
    assert "bound" in table.stdout
    bad = tmp_path / "bad.txt"
    bad.write_text("2 3 1 2", encoding="utf-8")
    failed = runner.invoke(app, ["eval", "gap", str(bad)])
    assert failed.exit_code == 2 and "bad.txt" in failed.output
    missing = runner.invoke(app, ["eval", "gap", str(tmp_path / "nope.txt")])
    assert missing.exit_code == 2
