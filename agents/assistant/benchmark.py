"""How fast the assistant answers, on the seeded continental surge network.

    uv run python -m agents.assistant.benchmark --orders 10000 --nodes 200 --repeat 5

Loads `tools.sourcing.synthetic.surge_network` into a fresh SQLite store, then times every
read command (median of `--repeat` runs, through `Assistant.ask`: parsing, the tool, the
rendering, the chat log) and the what-if scenarios, whose re-plan covers every order the
hypothetical disruption touches (the optimizer's own time limit is 2 s). Prints a table;
asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from agents.assistant.assistant import Assistant
from agents.assistant.backend import AssistantBackend
from agents.assistant.models import Asker, ChatAnswer
from agents.state import HumanDecision
from guardrails.policy import default_policy
from tools.decisions import Decision
from tools.events import ExceptionEvent
from tools.sourcing.synthetic import OUTAGE_DC, surge_network
from tools.store import Store


def _no_action(*args: object) -> Decision:
    raise RuntimeError("the benchmark runs read tools only")


def _refuse(event: ExceptionEvent) -> Decision:
    return _no_action(event)


def _refuse_approval(approval_id: str, human: HumanDecision) -> Decision:
    return _no_action(approval_id, human)


def run(orders: int, nodes: int, repeat: int, seed: int = 7) -> list[tuple[str, float, str]]:
    """(command, median ms, first line of the answer) per command."""
    snapshot, _ = surge_network(orders=orders, nodes=nodes, seed=seed)
    rows: list[tuple[str, float, str]] = []
    with tempfile.TemporaryDirectory() as folder:
        store = Store.open(f"sqlite:///{Path(folder) / 'bench.db'}")
        try:
            store.load_snapshot(snapshot)
            backend = AssistantBackend(
                store=store,
                policy=default_policy(),
                resolve=_refuse,
                decide_approval=_refuse_approval,
            )
            assistant = Assistant(backend)
            asker = Asker(name="bench", role="viewer", channel="cli")
            first_order = snapshot.orders[0].id
            commands = [
                "help",
                f"status {first_order}",
                "pending",
                "health",
                "what-if carrier SWIFT region NE",
                "what-if carrier PARCELCO region SE",
                f"what-if node {OUTAGE_DC} closed",
            ]
            with Progress(transient=True) as progress:
                task = progress.add_task("asking", total=len(commands) * repeat)
                for command in commands:
                    times: list[float] = []
                    answer: ChatAnswer | None = None
                    for _ in range(repeat):
                        started = time.perf_counter()
                        answer = assistant.ask(asker, "bench", command)
                        times.append((time.perf_counter() - started) * 1000)
                        progress.advance(task)
                    assert answer is not None
                    lines = answer.answer.splitlines()
                    head = lines[1] if "what-if" in command and len(lines) > 1 else lines[0]
                    rows.append((command, statistics.median(times), head[:90]))
        finally:
            store.close()
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--nodes", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    rows = run(args.orders, args.nodes, args.repeat, args.seed)
    table = Table(title=f"Assistant latency: {args.orders:,} orders, {args.nodes} nodes")
    table.add_column("command")
    table.add_column("median ms", justify="right")
    table.add_column("answer (first line)")
    for command, ms, head in rows:
        table.add_row(command, f"{ms:,.1f}", head)
    Console(width=150).print(table)


if __name__ == "__main__":
    main()
