"""`execlayer eval gap`: solve GAP files and print one JSON line or one table row per instance."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tools.sourcing.gap import (
    SOLVERS,
    GapFormatError,
    GapInstance,
    GapResult,
    find_bounds,
    read_gap_file,
    solve_gap,
)


class GapRunError(ValueError):
    """Bad arguments or an unreadable file: nothing was solved."""


def load_instances(files: list[Path]) -> list[tuple[GapInstance, dict[str, tuple[float, float]]]]:
    found: list[tuple[GapInstance, dict[str, tuple[float, float]]]] = []
    for path in files:
        try:
            instances = read_gap_file(path)
        except GapFormatError as exc:
            raise GapRunError(str(exc)) from None
        bounds = find_bounds(path)
        found.extend((instance, bounds) for instance in instances)
    return found


def run_gap(
    files: list[Path],
    *,
    time_limit_s: float,
    json_out: bool,
    solver: str = "execlayer",
    compare_highs: bool = False,
    seed: int = 0,
    out: Console | None = None,
) -> list[GapResult]:
    if solver not in SOLVERS:
        raise GapRunError(f"--solver must be one of {', '.join(SOLVERS)}, got {solver!r}")
    if not time_limit_s > 0:
        raise GapRunError(f"--time-limit must be > 0, got {time_limit_s}")
    instances = load_instances(files)
    console = out or Console()
    status = Console(stderr=True)
    results: list[GapResult] = []
    rows: list[dict[str, object]] = []
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=status,
        transient=True,
        disable=len(instances) < 2,
    ) as progress:
        task = progress.add_task("solving GAP instances", total=len(instances))
        for instance, bounds in instances:
            progress.update(task, description=f"solving {instance.name}")
            result = solve_gap(
                instance, time_limit_s=time_limit_s, solver=solver, bounds=bounds, seed=seed
            )
            row: dict[str, object] = result.model_dump()
            if compare_highs and solver != "highs-mip":
                plain = solve_gap(
                    instance, time_limit_s=time_limit_s, solver="highs-mip", bounds=bounds
                )
                row["highs_objective"] = plain.objective
                row["highs_seconds"] = plain.seconds
                row["highs_lower_bound"] = plain.lower_bound
            results.append(result)
            rows.append(row)
            if json_out:
                console.out(json.dumps(row), highlight=False)
            progress.advance(task)
    if not json_out:
        console.print(_table(rows, compare_highs and solver != "highs-mip"))
    return results


def _fmt(value: object, digits: int = 0) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _bound(row: dict[str, object]) -> str:
    """Our own lower bound, marked L when the Lagrangian relaxation gave it (JSON:
    `lower_bound_source`)."""
    mark = " L" if row.get("lower_bound_source") == "lagrangian" else ""
    return _fmt(row.get("lower_bound")) + mark


def _table(rows: list[dict[str, object]], with_highs: bool) -> Table:
    table = Table(title="GAP (minimisation)")
    for name in ("instance", "known", "ours", "gap %", "bound", "sec", "method"):
        table.add_column(name, justify="left" if name in ("instance", "method") else "right")
    if with_highs:
        table.add_column("plain HiGHS", justify="right")
    for row in rows:
        cells = [
            str(row["instance"]),
            _fmt(row.get("best_known")),
            _fmt(row.get("objective")),
            _fmt(row.get("gap_to_best_known_pct"), 3),
            _bound(row),
            _fmt(row.get("seconds"), 2),
            str(row.get("method")),
        ]
        if with_highs:
            cells.append(_fmt(row.get("highs_objective")))
        table.add_row(*cells)
    return table
