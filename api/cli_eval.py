"""`execlayer eval gen` and `execlayer eval run`: thin wrappers over `evals/`."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

err = Console(stderr=True)


def _fail(command: str, message: str, code: int = 2) -> None:
    err.print(f"[bold red]execlayer {command}:[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code=code)


def generate(out: Path, families: str, n: int, seed: int, cases_per_network: int) -> None:
    from evals.families import FamilyError
    from evals.simulator import generate_cases, write_dataset

    names = [f.strip() for f in families.split(",") if f.strip()]
    if cases_per_network < 1:
        _fail("eval gen", "--cases-per-network must be at least 1")
    try:
        cases, networks = generate_cases(names, n, seed, cases_per_network=cases_per_network)
    except FamilyError as exc:
        _fail("eval gen", str(exc))
    count = write_dataset(out, cases, networks)
    by_family: dict[str, int] = {}
    for case in cases:
        by_family[case.family] = by_family.get(case.family, 0) + 1
    Console().print(
        f"Wrote {count} cases to [bold]{escape(str(out))}[/] "
        f"({len(networks)} network(s) in {escape(out.stem)}.networks/): "
        + ", ".join(f"{k} {v}" for k, v in by_family.items()),
        soft_wrap=True,
    )


def run(
    dataset: Path,
    policy: str,
    out: Path | None,
    json_out: bool,
    trials: int,
    limit: int | None,
    seed: int,
) -> None:
    _fail("eval run", "not yet available")
    _ = json
