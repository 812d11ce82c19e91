"""`execlayer demo`: a realistic network, a stream of exceptions of every family, the real
resolver on the embedded default (no LLM, no server, no network), a summary and a report.

The demo keeps to its own store, `<home>/demo/demo.db` (recreated on every run, so a second
run never trips over the first; the user's own store is left alone) and writes
`<home>/demo/report.html` (+ `report.md`, `metrics.json`, charts). Each exception's decision
is then played out under the case's hidden truth exactly as `execlayer eval run` does, next
to what the static rule engine would have done with the same exception, so the summary can say
how many promises the agent kept against the static baseline.

The stream shares one store, as in production: every decision sees the effects of the ones
before it. To keep the scoring honest, the exceptions touch disjoint sets of orders.
"""

from __future__ import annotations

import shutil
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from evals.cases import ReplayCase
from evals.metrics import PolicyMetrics, compute
from evals.outcomes import METHOD
from evals.policies import StaticDecider, agent_decided, stage
from evals.replay import CaseResult, score_case
from evals.report import write_reports
from evals.simulator import FAMILIES, NetworkSize, generate_cases
from tools.network import NetworkSnapshot

DEMO_SIZE = NetworkSize(stores_per_region=4, skus=40, orders=900)
SHORT = {"auto_resolved": "auto", "pending_approval": "approval", "escalated": "escalated"}


@dataclass
class DemoResult:
    results: list[CaseResult]
    metrics: dict[str, PolicyMetrics]
    report: Path
    db_url: str
    seconds: float


def demo_cases(n: int, seed: int) -> tuple[list[ReplayCase], NetworkSnapshot]:
    """`n` cases over every family on one network, touching disjoint sets of orders."""
    cases, networks = generate_cases(FAMILIES, n * 2, seed, cases_per_network=n * 2, size=DEMO_SIZE)
    network = next(iter(networks.values()))
    used: set[str] = set()
    picked: list[ReplayCase] = []
    per_family: Counter[str] = Counter()
    quota = -(-n // len(FAMILIES))
    for case in cases:
        touched = set(case.event.orders) | set(
            (case.expected.only_orders if case.expected else None) or []
        )
        if touched & used or per_family[case.family] >= quota:
            continue
        used |= touched
        per_family[case.family] += 1
        picked.append(case.model_copy(update={"network": network, "network_ref": None}))
        if len(picked) >= n:
            break
    return picked, network


def run_demo(home: Path, n: int = 210, seed: int = 7, console: Console | None = None) -> DemoResult:
    from agents.heap import settle
    from agents.resolver import Resolver
    from tools.settings import Settings

    console = console or Console()
    t0 = time.perf_counter()
    folder = home / "demo"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    db_url = f"sqlite:///{(folder / 'demo.db').as_posix()}"
    console.print(f"Seeding a demo network and {n} exceptions of every family ...")
    cases, network = demo_cases(n, seed)
    console.print(
        f"Network: {len(network.nodes)} nodes (DCs, stores, 3PLs, distributors, marketplace "
        f"sellers) in {len({x.region for x in network.nodes})} regions, "
        f"{len(network.carriers)} carriers, {len(network.skus)} SKUs, "
        f"{len(network.orders)} open orders."
    )
    settings = Settings(home=folder / "home", db_url=None)
    results: list[CaseResult] = []
    static = StaticDecider()
    with (
        Resolver.open(settings, db_url=db_url, use_memory=False, use_llm=False) as resolver,
        Progress(
            TextColumn("[bold]resolving"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=console,
        ) as progress,
    ):
        resolver.store.load_snapshot(network)
        settle()  # start-up is over: see agents.heap
        task = progress.add_task("resolve", total=len(cases), status="")
        counts: Counter[str] = Counter()
        for case in cases:
            staged = stage(case, folder)
            decision = resolver.resolve(case.event)
            counts[decision.status.value] += 1
            results.append(score_case(staged, "agent", agent_decided(staged, decision), seed))
            results.append(score_case(staged, "static", static.decide(staged), seed))
            progress.update(
                task,
                advance=1,
                status=" ".join(f"{SHORT.get(k, k)} {v}" for k, v in sorted(counts.items())),
            )
    metrics = compute(results)
    meta = {
        "dataset": f"execlayer demo (seed {seed}, {len(cases)} exceptions)",
        "cases": len(cases),
        "seed": seed,
        "trials": 1,
        "command": f"execlayer demo --n {n} --seed {seed}",
        "method": METHOD,
    }
    write_reports(folder, metrics, meta)
    return DemoResult(results, metrics, folder / "report.html", db_url, time.perf_counter() - t0)


def summary_table(result: DemoResult) -> Table:
    agent = result.metrics["agent"].overall
    static = result.metrics["static"].overall
    table = Table("", "agent", "static rules", title="execlayer demo")
    table.add_row("exceptions", str(agent.cases), str(static.cases))
    table.add_row(
        "auto-resolved",
        f"{agent.auto_resolution_rate:.0%}",
        f"{static.auto_resolution_rate:.0%}",
    )
    table.add_row("pending approval", f"{agent.pending_approval_rate:.0%}", "–")
    table.add_row(
        "escalated to a person",
        f"{agent.escalation_rate:.0%}",
        f"{static.escalation_rate:.0%}",
    )
    table.add_row(
        "promises kept",
        f"{agent.promise_kept_rate:.1%}",
        f"{static.promise_kept_rate:.1%}",
    )
    table.add_row(
        "cost change per order (vs. original plan)",
        f"${agent.cost_per_order:.2f}",
        f"${static.cost_per_order:.2f}",
    )
    table.add_row(
        "guardrail violations", str(agent.guardrail_violations), str(static.guardrail_violations)
    )
    table.add_row(
        "decision latency p50 / p99",
        f"{agent.decision_latency_p50_ms:.0f} / {agent.decision_latency_p99_ms:.0f} ms",
        "–",
    )
    return table


def family_table(result: DemoResult) -> Table:
    table = Table(
        "family", "exceptions", "agent kept", "static kept", title="Promises kept by family"
    )
    agent, static = result.metrics["agent"], result.metrics["static"]
    for family, m in agent.by_family.items():
        s = static.by_family.get(family)
        table.add_row(
            family,
            str(m.cases),
            f"{m.promise_kept_rate:.0%}",
            f"{s.promise_kept_rate:.0%}" if s else "–",
        )
    return table
