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
    from evals.metrics import compute
    from evals.outcomes import METHOD
    from evals.replay import ReplayError, parse_policies, replay
    from evals.report import metrics_document, print_summary, write_reports
    from guardrails.policy import PolicyError
    from tools.inputs import InputError

    try:
        policies = parse_policies(policy)
        if limit is not None and limit < 1:
            raise ReplayError("--limit", ["must be at least 1"])
        results = replay(dataset, policies, seed=seed, trials=trials, limit=limit)
    except (ReplayError, InputError, PolicyError) as exc:
        _fail("eval run", str(exc))
    metrics = compute(results)
    command = f"execlayer eval run --dataset {dataset} --policy {','.join(policies)} --seed {seed}"
    if trials > 1:
        command += f" --trials {trials}"
    if limit is not None:
        command += f" --limit {limit}"
    meta = {
        "dataset": str(dataset),
        "cases": len({r.case for r in results}),
        "seed": seed,
        "trials": trials,
        "command": command,
        "method": METHOD,
    }
    if json_out:
        typer.echo(json.dumps(metrics_document(metrics, meta), indent=2))
    else:
        print_summary(Console(), metrics)
    if out is not None:
        written = write_reports(out, metrics, meta)
        (err if json_out else Console()).print(
            "Wrote " + ", ".join(escape(str(p)) for p in written[:3]) + " (and the charts)",
            soft_wrap=True,
        )
    agent = metrics.get("agent")
    if agent is not None and agent.overall.guardrail_violations:
        err.print(
            f"[bold red]{agent.overall.guardrail_violations} guardrail violation(s) by the agent[/]"
        )
        raise typer.Exit(code=1)
