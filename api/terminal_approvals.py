"""`execlayer approvals list|approve|reject`: deciding from a terminal, no server needed.

Works on the store directly through the sync `Resolver` (same compare-and-set, same graph
resumption as the API, Slack and the console); the actor is `cli:<os user>`.
"""

from __future__ import annotations

import getpass
import json
from typing import Literal, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from agents.resolver import ApprovalAlreadyDecided, ApprovalNotFound, ResolutionError, Resolver
from agents.state import HumanDecision
from api.render import decision_panel
from api.views import approval_items
from tools.decisions import ApprovalStatus
from tools.settings import Settings
from tools.store import Store

err = Console(stderr=True)


def fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=code)


def actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def list_approvals(db: str | None, status: str, json_out: bool) -> None:
    wanted: str | None = None if status == "all" else status
    if wanted is not None and wanted not in {s.value for s in ApprovalStatus}:
        fail(f"--status: {status!r} is not one of pending, approved, rejected, superseded, all")
    with Store.open(db or Settings().database_url) as store:
        items = approval_items(store, wanted)
    if json_out:
        typer.echo(json.dumps([i.model_dump(mode="json") for i in items], indent=2))
        return
    out = Console()
    if not items:
        out.print(f"No {'' if wanted is None else wanted + ' '}approvals.")
        return
    table = Table(title=f"Approvals ({status})", expand=True)
    for col in ("approval", "exception", "status", "plan", "cost Δ", "why", "requested"):
        table.add_column(col)
    for i in items:
        a = i.approval
        table.add_row(
            a.id,
            f"{a.exception_id}\n{i.exception_type or ''}",
            a.status.value + (f"\nby {a.decided_by}" if a.decided_by else ""),
            i.summary or "-",
            f"{i.cost_delta:+,.2f}" if i.cost_delta is not None else "-",
            "\n".join(a.reasons),
            a.requested_at.strftime("%d %b %H:%M") if a.requested_at else "-",
        )
    out.print(table)


def decide(
    approval_id: str,
    decision: Literal["approve", "reject"],
    comment: str,
    db: str | None,
    json_out: bool,
) -> None:
    human = HumanDecision(decision=decision, actor=actor(), channel="cli", comment=comment)
    try:
        with Resolver.open(Settings(), db_url=db) as resolver:
            result = resolver.decide_approval(approval_id, human)
    except ApprovalNotFound:
        fail(f"no approval {approval_id!r}")
    except ApprovalAlreadyDecided as exc:
        fail(str(exc), code=1)
    except ResolutionError as exc:
        fail(str(exc), code=1)
    if json_out:
        typer.echo(result.model_dump_json(indent=2))
    else:
        Console().print(decision_panel(result))
