"""`execlayer eval learn | import | agree`: the learning curve and the user's own history.

Thin Typer wrappers; the work is in `evals.learning`, `evals.importer` and `evals.agreement`.
Registered on the `eval` group by `register(eval_app)` in `api/cli.py`.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

err = Console(stderr=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _fail(command: str, message: str, code: int = 2) -> NoReturn:
    err.print(f"[bold red]execlayer eval {command}:[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code=code)


def _command_line() -> str:
    return "execlayer " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def eval_learn(
    n: Annotated[int, typer.Option("--n", help="Exceptions in the stream", min=20)] = 600,
    seed: Annotated[int, typer.Option(help="Seed of the scenario and the deliveries")] = 7,
    window: Annotated[int, typer.Option(help="Exceptions per reported window", min=5)] = 50,
    after: Annotated[
        float, typer.Option(help="True on-time rate of PARCELCO/NE after the degradation")
    ] = 0.45,
    degrade_at: Annotated[
        float, typer.Option(help="Where the degradation starts (fraction of the stream)")
    ] = 0.5,
    out: Annotated[
        Path | None, typer.Option(help="Write curve.json, curve.svg, report.md, report.html")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Learning curve: a carrier's true reliability degrades midway; learning on vs off."""
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    from pydantic import ValidationError
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskID,
        TimeElapsedColumn,
    )

    from evals.learning import LearningConfig, learning_curve
    from evals.learning_report import curve_json, curve_table, write_reports

    try:
        config = LearningConfig(
            n=n, seed=seed, window=window, reliability_after=after, degrade_at=degrade_at
        )
    except ValidationError as exc:
        _fail("learn", "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors()))
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=json_out,
    ) as progress:
        tasks: dict[str, TaskID] = {}

        def hook(label: str, done: int, total: int) -> None:
            if label not in tasks:
                tasks[label] = progress.add_task(label, total=total)
            progress.update(tasks[label], completed=done)

        curve, _, _ = learning_curve(config, progress=hook)
    if out is not None:
        for path in write_reports(curve, out, _command_line()):
            err.print(f"wrote {escape(str(path))}")
    if json_out:
        typer.echo(curve_json(curve))
    else:
        console = Console()
        console.print(curve_table(curve))
        console.print(
            f"promise kept after the degradation: learning on "
            f"[bold]{100 * curve.learning_kept_after:.1f} %[/], off "
            f"[bold]{100 * curve.static_kept_after:.1f} %[/] (last third: "
            f"{100 * curve.learning_kept_last_windows:.1f} % vs "
            f"{100 * curve.static_kept_last_windows:.1f} %)"
        )


FileOption = Annotated[Path | None, typer.Option(help="Override the file found in FOLDER")]


def eval_import(
    folder: Annotated[Path, typer.Argument(help="Folder of the OMS export")] = Path("."),
    out: Annotated[Path, typer.Option(help="Replay cases JSONL to write")] = Path("cases.jsonl"),
    mapping: Annotated[
        Path | None,
        typer.Option(help="Column/value mapping (YAML or JSON); default FOLDER/mapping.yaml"),
    ] = None,
    network: Annotated[
        Path | None, typer.Option(help="Network snapshot JSON; default FOLDER/network.json")
    ] = None,
    orders: FileOption = None,
    exceptions: FileOption = None,
    actions: FileOption = None,
    outcomes: FileOption = None,
    json_out: JsonOption = False,
) -> None:
    """Import an OMS export (orders, exceptions, actions, outcomes) as replay cases."""
    import json

    from rich.table import Table

    from evals.export_format import load_mapping
    from evals.importer import ExportFiles, import_export, write_atomically
    from tools.inputs import InputError

    if mapping is None:
        for name in ("mapping.yaml", "mapping.yml", "mapping.json"):
            if (folder / name).is_file():
                mapping = folder / name
                break
    try:
        rules = load_mapping(mapping)
        files = ExportFiles.in_folder(
            folder,
            rules,
            network=network,
            orders=orders,
            exceptions=exceptions,
            actions=actions,
            outcomes=outcomes,
        )
        report = import_export(files, rules)
    except InputError as exc:
        err.print(
            f"[bold red]execlayer eval import:[/] invalid {escape(exc.what)}; nothing written"
        )
        for problem in exc.problems:
            err.print(f"  - {escape(problem)}", soft_wrap=True, highlight=False)
        raise typer.Exit(code=2) from None
    try:
        count = write_atomically(out, report.cases)
    except OSError as exc:
        _fail("import", f"cannot write {out}: {exc}", code=1)
    summary = {
        "written": count,
        "out": str(out),
        "mapping": str(mapping) if mapping else None,
        "orders": report.orders,
        "exceptions": report.exceptions,
        "actions": report.actions,
        "outcomes": report.outcomes,
        "with_action": report.with_action,
        "with_outcome": report.with_outcome,
        "by_family": report.by_family,
        "empirical_on_time": report.empirical_lanes,
    }
    if json_out:
        typer.echo(json.dumps(summary, indent=2))
        return
    table = Table("what", "count", title=f"Imported {count} replay cases into {out}")
    for key in ("orders", "exceptions", "actions", "outcomes", "with_action", "with_outcome"):
        table.add_row(key.replace("_", " "), str(summary[key]))
    for family, n in report.by_family.items():
        table.add_row(f"family {family}", str(n))
    Console().print(table)
    if mapping:
        err.print(f"mapping: {escape(str(mapping))}")


def eval_agree(
    dataset: Annotated[Path, typer.Option(help="Replay cases JSONL with history blocks")],
    out: Annotated[
        Path | None, typer.Option(help="Write agreement.json, chart.svg, report.md, report.html")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """How often the agent agrees with what your people did, and how their choices ended."""
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from evals.agreement import agreement
    from evals.agreement_report import agreement_table, cases_table, write_reports
    from tools.inputs import InputError

    try:
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        ) as progress:
            task = progress.add_task("resolving", total=None)
            report = agreement(
                dataset,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
    except InputError as exc:
        _fail("agree", str(exc))
    if out is not None:
        for path in write_reports(report, out, _command_line()):
            err.print(f"wrote {escape(str(path))}")
    if json_out:
        typer.echo(report.model_dump_json(indent=2))
        return
    console = Console()
    console.print(cases_table(report))
    console.print(agreement_table(report))


def register(eval_app: typer.Typer) -> None:
    """Add `learn`, `import` and `agree` to the `eval` group."""
    eval_app.command("learn")(eval_learn)
    eval_app.command("import")(eval_import)
    eval_app.command("agree")(eval_agree)
