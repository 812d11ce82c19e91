"""`execlayer demo`: a thin wrapper over `evals.demo`."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

from evals.simulator import FAMILIES


def demo(n: int, seed: int) -> None:
    from evals.demo import family_table, run_demo, summary_table
    from tools.settings import Settings

    if n < len(FAMILIES):
        Console(stderr=True).print(
            f"[bold red]execlayer demo:[/] --n must be at least {len(FAMILIES)} "
            "(one exception per family)"
        )
        raise typer.Exit(code=2)
    out = Console()
    result = run_demo(Settings().home, n=n, seed=seed, console=out)
    out.print(summary_table(result))
    out.print(family_table(result))
    out.print(
        f"Report: [bold]{escape(str(result.report))}[/] "
        f"(store {escape(result.db_url)}; browse it with "
        f"`execlayer serve --db {escape(result.db_url)}`). {result.seconds:.0f} s.",
        soft_wrap=True,
    )
