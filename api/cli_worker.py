"""`execlayer worker`: drain queued exceptions from the shared store (see `agents.worker`)."""

from __future__ import annotations

import json
import signal
from types import FrameType

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from agents.heap import settle
from agents.resolver import Resolver
from agents.worker import DrainReport, Worker
from tools.decisions import Decision
from tools.settings import Settings


def summary(report: DrainReport) -> Table:
    table = Table(title="execlayer worker")
    table.add_column("decisions")
    table.add_column("count", justify="right")
    table.add_column("", no_wrap=True)
    top = max(report.statuses.values(), default=0)
    for status, count in sorted(report.statuses.items()):
        table.add_row(status, str(count), "█" * (round(30 * count / top) if top else 0))
    table.add_row("failed (left for a retry)", str(len(report.failed)), "")
    table.add_row("requeued from stopped claimants", str(len(report.requeued)), "")
    table.caption = (
        f"{report.decided} decided in {report.seconds:.1f} s ({report.per_second:.1f}/s)"
    )
    return table


def run_worker(db: str | None, once: bool, concurrency: int, memory: bool, json_out: bool) -> None:
    err = Console(stderr=True)
    if concurrency < 1:
        err.print("[bold red]execlayer worker:[/] --concurrency must be at least 1")
        raise typer.Exit(code=2)
    settings = Settings()
    try:
        opening = Resolver.open(settings, db_url=db, use_memory=memory)
        resolver = opening.__enter__()
    except ValueError as exc:
        err.print(f"[bold red]execlayer worker:[/] {escape(str(exc))}")
        raise typer.Exit(code=2) from None
    try:

        def show(decision: Decision) -> None:
            if not json_out:
                err.print(
                    f"{escape(decision.exception_id)}: [bold]{decision.status.value}[/]",
                    highlight=False,
                )

        worker = Worker(resolver, concurrency=concurrency, on_decision=show)
        settle()  # start-up is over: see agents.heap

        def stop(signum: int, frame: FrameType | None) -> None:
            err.print("stopping after the decisions in flight ...")
            worker.stop.set()

        previous = signal.signal(signal.SIGTERM, stop)
        err.print(
            f"worker {escape(resolver.worker_id)} on {escape(resolver.store.url)}: "
            + ("draining the queue once" if once else "waiting for queued exceptions"),
            highlight=False,
        )
        try:
            report = worker.drain(once=once)
        finally:
            signal.signal(signal.SIGTERM, previous)
    finally:
        opening.__exit__(None, None, None)
    if json_out:
        typer.echo(
            json.dumps(
                {
                    "worker_id": resolver.worker_id,
                    "decided": report.decided,
                    "statuses": dict(sorted(report.statuses.items())),
                    "failed": report.failed,
                    "requeued": report.requeued,
                    "seconds": round(report.seconds, 3),
                }
            )
        )
    else:
        Console().print(summary(report))
    if report.failed:
        raise typer.Exit(code=1)
