"""`execlayer eval bench`: run `evals.bench` with a progress bar; a report with bars, or JSON."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from evals.bench import BenchConfig, run_bench

BAR_WIDTH = 40


def _bar(value: float, scale: float) -> str:
    cells = 0 if scale <= 0 else max(1, round(BAR_WIDTH * value / scale)) if value > 0 else 0
    return "█" * min(cells, BAR_WIDTH)


def report(result: dict[str, Any]) -> Table:
    """The figures as a table; latencies and rates as bars on a common scale."""
    floor, decision = result["floor_latency_ms"], result["decision_latency_ms"]
    table = Table(title="execlayer eval bench", show_lines=False)
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("", no_wrap=True)
    scale = max(floor["p99"], decision["p99"])
    for name, lat in (("floor (bare graph)", floor), ("full decision path", decision)):
        for q in ("p50", "p99"):
            table.add_row(f"{name} {q}", f"{lat[q]:.1f} ms", _bar(lat[q], scale))
    chain = result.get("floor_chain_latency_ms")
    if chain is not None:
        table.add_row(
            "floor, 5-step chain p50",
            f"{chain['p50']:.1f} ms",
            f"{_bar(chain['p50'], scale)} ratio {result['overhead_ratio_chain_p50']:.2f}x",
        )
    cpu_scale = max(result["floor_cpu_ms"]["p50"], result["decision_cpu_ms"]["p50"])
    for name, key in (("floor CPU p50", "floor_cpu_ms"), ("decision CPU p50", "decision_cpu_ms")):
        value = result[key]["p50"]
        table.add_row(name, f"{value:.1f} ms", _bar(value, cpu_scale))
    table.add_row("overhead ratio (CPU, p50)", f"{result['overhead_ratio_cpu_p50']:.2f}x", "")
    ratio = result["overhead_ratio_p50"]
    table.add_row(
        "overhead ratio (p50)",
        f"{ratio:.2f}x",
        "[green]within 2x[/]" if ratio <= 2.0 else "[red]above 2x[/]",
    )
    rates = result["throughput_per_s"], result["http_throughput_per_s"]
    top = max(rates)
    table.add_row("throughput in-process", f"{rates[0]:.1f} /s", _bar(rates[0], top))
    table.add_row(
        f"throughput HTTP ({result['http_clients']} clients)",
        f"{rates[1]:.1f} /s",
        _bar(rates[1], top),
    )
    batch = result["batch"]
    table.add_row(
        f"batch: {batch['orders']:,} orders / {batch['nodes']} nodes",
        f"{batch['seconds']:.2f} s",
        "",
    )
    table.add_row("batch gap to LP bound", f"{batch['gap_pct']:.3f} %", "")
    greedy = batch["greedy_gap_pct"]
    table.add_row("static-rules baseline gap", "n/a" if greedy is None else f"{greedy:.2f} %", "")
    statuses = ", ".join(f"{k} {v}" for k, v in result["decision_statuses"].items())
    table.caption = (
        f"{result['workload']['nodes']}-node network, families: "
        f"{', '.join(result['workload']['families'])}; decisions: {statuses}; "
        f"HTTP: {result['http_status_codes']}; {result['machine']['cpus']} CPUs, "
        f"load average {result['load_average_1m']}"
    )
    return table


def bench(config: BenchConfig, json_out: bool) -> None:
    err = Console(stderr=True)
    with Progress(
        TextColumn("{task.description:>10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as bar:
        tasks: dict[str, Any] = {}

        def progress(task: str, done: int, total: int) -> None:
            if task not in tasks:
                tasks[task] = bar.add_task(task, total=total)
            bar.update(tasks[task], completed=done)

        try:
            result = run_bench(config, progress)
        except (RuntimeError, ValueError) as exc:
            err.print(f"[bold red]execlayer eval bench:[/] {exc}")
            raise typer.Exit(code=1) from None
    if json_out:
        typer.echo(json.dumps(result, indent=2))
    else:
        Console().print(report(result))
