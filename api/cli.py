"""The `execlayer` command line (contract section 6)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from api import cli_history

app = typer.Typer(
    name="execlayer",
    help="execlayer: resolve order-management exceptions from signal to committed action.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
eval_app = typer.Typer(help="Offline evaluation: replay, benchmarks, GAP instances.")
policy_app = typer.Typer(help="Operating policy files.")
approvals_app = typer.Typer(help="Pending approvals, from the terminal.")
app.add_typer(eval_app, name="eval")
app.add_typer(policy_app, name="policy")
app.add_typer(approvals_app, name="approvals")
cli_history.register(eval_app)  # eval learn | import | agree

err = Console(stderr=True)

DbOption = Annotated[
    str | None, typer.Option("--db", help="Store URL (default: EXECLAYER_DB_URL or ./.execlayer/)")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def fail(message: str, code: int = 2) -> NoReturn:
    """A clear error on stderr and a non-zero exit: bad input is 2, a failed run is 1."""
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    raise typer.Exit(code=code)


def unavailable(command: str, issue: str) -> NoReturn:
    """A registered command whose implementation has not landed yet: say so and exit 2."""
    err.print(f"[bold red]execlayer {command}: not yet available[/] (lands with: {issue}).")
    raise typer.Exit(code=2)


@app.command()
def demo(
    n: Annotated[int, typer.Option("--n", help="Exceptions to stream (at least 7)")] = 210,
    seed: Annotated[int, typer.Option(help="Seed of the demo network and exceptions")] = 7,
) -> None:
    """Seed a demo network, stream exceptions of every family, resolve them, write a report."""
    from api.cli_demo import demo as run

    run(n, seed)


@app.command()
def load(
    network: Annotated[Path, typer.Argument(help="Network snapshot JSON")], db: DbOption = None
) -> None:
    """Load or refresh a network snapshot into the store."""
    from datetime import UTC

    from rich.markup import escape
    from rich.table import Table
    from sqlalchemy.exc import SQLAlchemyError

    from tools.inputs import InputError
    from tools.inputs import load_snapshot as read_snapshot
    from tools.network import utc_iso
    from tools.store import Store

    try:
        snapshot = read_snapshot(network)  # validated before anything is opened or written
        store = Store.open(db)
    except (InputError, ValueError) as exc:
        err.print(f"[bold red]execlayer load:[/] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(code=2) from None
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc)
        err.print(
            f"[bold red]execlayer load: cannot open the store:[/] {escape(reason)}",
            soft_wrap=True,
        )
        raise typer.Exit(code=1) from None
    with store:
        report = store.load_snapshot(snapshot)
        where = store.url
    out = Console()
    verb = "Refreshed" if report.refreshed else "Loaded"
    previous = report.previous_as_of
    out.print(
        f"{verb} [bold]{escape(network.name)}[/] into {escape(where)}: network as of "
        f"[bold]{utc_iso(report.as_of.astimezone(UTC))}[/]"
        + (
            f" (was {utc_iso(previous.astimezone(UTC))})"
            if previous is not None and previous != report.as_of
            else ""
        ),
        soft_wrap=True,
    )
    table = Table("entities", "count", "added", "updated", "removed", "unchanged")
    for kind, change in report.changes.items():
        table.add_row(
            kind,
            str(change.total),
            str(change.added),
            str(change.updated),
            str(change.removed),
            str(change.unchanged),
        )
    out.print(table)
    if report.refreshed and not report.changed:
        out.print("No changes: the store already held this network.")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind")] = 8000,
    db: DbOption = None,
) -> None:
    """Serve the HTTP API, the Slack endpoints and the ops console."""
    from api.server import serve as run_server

    run_server(host=host, port=port, db_url=db)


@app.command()
def resolve(
    event: Annotated[Path, typer.Argument(help="Exception event JSON")],
    network: Annotated[Path | None, typer.Option(help="Load this snapshot first")] = None,
    policy: Annotated[Path | None, typer.Option(help="Operating policy YAML")] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Resolve one exception event and print the decision."""
    from agents.resolver import ResolutionError, Resolver
    from api.render import decision_panel
    from guardrails.policy import PolicyError, load_policy
    from tools.inputs import InputError, load_event, load_snapshot
    from tools.settings import Settings

    try:
        parsed = load_event(event)
        snapshot = load_snapshot(network) if network is not None else None
        chosen_policy = load_policy(policy) if policy is not None else None
    except (InputError, PolicyError) as exc:
        fail(str(exc))
    settings = Settings()
    try:
        with Resolver.open(settings, db_url=db, policy=chosen_policy) as resolver:
            if snapshot is not None:
                resolver.store.load_snapshot(snapshot)
            decision = resolver.resolve(parsed)
    except InputError as exc:
        fail(str(exc))
    except ResolutionError as exc:
        fail(str(exc), code=1)
    if json_out:
        typer.echo(decision.model_dump_json(indent=2))
    else:
        Console().print(decision_panel(decision))


@app.command()
def chat(
    db: DbOption = None,
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            envvar="EXECLAYER_API_KEY",
            help="An API key from EXECLAYER_API_KEYS: act with its role (default: local operator)",
        ),
    ] = None,
    session: Annotated[str | None, typer.Option(help="Continue this session id")] = None,
) -> None:
    """The ops assistant in a terminal (`help` for the commands, `exit` to leave)."""
    from api.cli_chat import run_chat

    run_chat(db, key, session)


@app.command()
def worker(
    db: DbOption = None,
    once: Annotated[bool, typer.Option("--once", help="Exit when the queue is empty")] = False,
    concurrency: Annotated[int, typer.Option(help="Decisions in flight in this process")] = 1,
    memory: Annotated[bool, typer.Option(help="Use precedent memory (chromadb)")] = True,
    json_out: JsonOption = False,
) -> None:
    """Drain queued exceptions from the shared store."""
    from api.cli_worker import run_worker

    run_worker(db, once, concurrency, memory, json_out)


@eval_app.command("gen")
def eval_gen(
    out: Annotated[Path, typer.Option(help="Replay cases JSONL to write")],
    families: Annotated[
        str, typer.Option(help="Comma-separated families (default: all)")
    ] = "surge,disruption,partner,stockout,cutoff,sla_risk,injection",
    n: Annotated[int, typer.Option("--n", help="Number of cases")] = 100,
    seed: Annotated[int, typer.Option(help="Seed: same seed, same file")] = 0,
    cases_per_network: Annotated[int, typer.Option(help="Cases sharing one network")] = 50,
) -> None:
    """Generate replay cases (contract section 5) from the seeded simulator."""
    from api.cli_eval import generate

    generate(out, families, n, seed, cases_per_network)


@eval_app.command("run")
def eval_run(
    dataset: Annotated[Path, typer.Option(help="Replay cases JSONL")],
    policy: Annotated[
        str,
        typer.Option(help="agent | static | escalate | oracle, or several comma-separated"),
    ] = "agent",
    out: Annotated[
        Path | None, typer.Option(help="Write metrics.json, report.md, report.html")
    ] = None,
    json_out: JsonOption = False,
    trials: Annotated[int, typer.Option(help="Runs per case (pass^k with an LLM)")] = 1,
    limit: Annotated[int | None, typer.Option(help="Only the first N cases")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the outcome simulation")] = 0,
) -> None:
    """Replay historical exceptions and score the decisions."""
    from api.cli_eval import run

    run(dataset, policy, out, json_out, trials, limit, seed)


@eval_app.command("bench")
def eval_bench(
    json_out: JsonOption = False,
    n: Annotated[int, typer.Option("--n", min=1, help="Measured decisions")] = 200,
    warmup: Annotated[int, typer.Option(min=0, help="Decisions before measuring")] = 20,
    nodes: Annotated[int, typer.Option(min=2, help="Nodes of the decision network")] = 40,
    stream: Annotated[int, typer.Option(min=1, help="Exceptions of the in-process stream")] = 200,
    http: Annotated[int, typer.Option(min=1, help="Exceptions sent through the HTTP API")] = 200,
    clients: Annotated[int, typer.Option(min=1, help="Concurrent HTTP clients")] = 4,
    batch_orders: Annotated[int, typer.Option(min=1, help="Orders of the batch")] = 10_000,
    batch_nodes: Annotated[int, typer.Option(min=2, help="Nodes of the batch")] = 200,
    batch_time_limit: Annotated[float, typer.Option(min=0.1, help="Batch seconds")] = 5.0,
    memory: Annotated[bool, typer.Option(help="With precedent memory (chromadb)")] = False,
) -> None:
    """Measure decision latency, throughput and batch re-sourcing."""
    from api.cli_bench import bench
    from evals.bench import BenchConfig

    bench(
        BenchConfig(
            n=n,
            warmup=warmup,
            nodes=nodes,
            stream=stream,
            http=http,
            http_clients=clients,
            batch_orders=batch_orders,
            batch_nodes=batch_nodes,
            batch_time_limit_s=batch_time_limit,
            memory=memory,
        ),
        json_out,
    )


@eval_app.command("soak")
def eval_soak(
    n: Annotated[int, typer.Option("--n", help="Exceptions to fire")] = 10_000,
    clients: Annotated[int, typer.Option(help="Concurrent clients")] = 8,
    orders: Annotated[
        int | None, typer.Option(help="Orders in the network (default: n/5, 50..2000)")
    ] = None,
    db: DbOption = None,
    out: Annotated[
        Path | None, typer.Option(help="Write soak.json, soak-rss.csv, soak-rss.svg")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Soak the HTTP API on loopback: N exceptions from concurrent clients; count the store."""
    from evals.soak import soak_command

    raise typer.Exit(code=soak_command(n, clients, orders, db, out, json_out))


@eval_app.command("gap")
def eval_gap(
    files: Annotated[list[Path], typer.Argument(help="OR-Library GAP instance files")],
    time_limit: Annotated[float, typer.Option(help="Seconds per instance")] = 10.0,
    json_out: JsonOption = False,
    solver: Annotated[
        str, typer.Option(help="execlayer (the batch optimizer) | highs-mip (plain HiGHS MIP)")
    ] = "execlayer",
    compare_highs: Annotated[
        bool,
        typer.Option("--compare-highs", help="Also run plain HiGHS MIP with the same time limit."),
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed of the search (execlayer solver)")] = 0,
) -> None:
    """Solve OR-Library GAP instances (minimisation) with the batch optimizer."""
    from tools.sourcing.gap_report import GapRunError, run_gap

    try:
        run_gap(
            files,
            time_limit_s=time_limit,
            json_out=json_out,
            solver=solver,
            compare_highs=compare_highs,
            seed=seed,
        )
    except GapRunError as exc:
        err.print(f"[bold red]execlayer eval gap:[/] {exc}")
        raise typer.Exit(code=2) from None


@policy_app.command("check")
def policy_check(file: Annotated[Path, typer.Argument(help="Policy YAML")]) -> None:
    """Validate a policy file and print a readable summary."""
    from rich.markup import escape

    from guardrails.policy import PolicyError, load_policy
    from guardrails.summary import policy_summary

    try:
        policy = load_policy(file)
    except PolicyError as exc:
        err.print(f"[bold red]policy refused[/]: {escape(str(file))}", highlight=False)
        err.print(escape(exc.render()), highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from None
    out = Console()
    out.print(policy_summary(policy))
    out.print(f"[bold green]policy OK[/]: {escape(str(file))}", highlight=False)


@approvals_app.command("list")
def approvals_list(
    db: DbOption = None,
    json_out: JsonOption = False,
    status: Annotated[
        str, typer.Option(help="pending | approved | rejected | superseded | all")
    ] = "pending",
) -> None:
    """List approvals (pending ones by default)."""
    from api.terminal_approvals import list_approvals

    list_approvals(db, status, json_out)


@approvals_app.command("approve")
def approvals_approve(
    approval_id: str,
    comment: Annotated[str, typer.Option(help="Why (recorded in the audit trail)")] = "",
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Approve a pending decision: the plan is re-checked and executed."""
    from api.terminal_approvals import decide

    decide(approval_id, "approve", comment, db, json_out)


@approvals_app.command("reject")
def approvals_reject(
    approval_id: str,
    comment: Annotated[str, typer.Option(help="Why (recorded in the audit trail)")] = "",
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Reject a pending decision: nothing is executed."""
    from api.terminal_approvals import decide

    decide(approval_id, "reject", comment, db, json_out)
