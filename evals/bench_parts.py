"""Where the decision path's CPU goes: thread CPU per decision of each step and store call.

cProfile sees only the calling thread, but LangGraph writes `durability="sync"` checkpoints
from its background executor thread, so a profile of `Resolver.resolve` misses them. This
measures every part with `time.thread_time()` in the thread that runs it: the graph steps
(perceive, decide, guard, act, learn), the checkpointer's `put` / `put_writes` (serializing
included), and the store reads the steps share (`Store.view`, `recent_actions_by_node`).
Parts nest (act contains its `Store.view`), so they do not add up to the total.

    uv run python -m evals.bench_parts --n 100     # a rich table, or --json

The wrappers are installed only for the run and removed after it, even on error.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Engine, event

from evals.bench import decision_run
from evals.bench_workload import bench_events, bench_network

# (module, attribute path, label): the graph's step functions as the graph module binds them
# (the graph is compiled after the wrappers are in place), then methods of shared classes.
PARTS: tuple[tuple[str, str, str], ...] = (
    ("agents.graph", "perceive", "step perceive"),
    ("agents.graph", "decide", "step decide"),
    ("agents.graph", "guard", "step guard"),
    ("agents.graph", "act", "step act"),
    ("agents.graph", "learn", "step learn"),
    ("agents.checkpoints", "SqliteCheckpointer.put", "checkpoint put"),
    ("agents.checkpoints", "SqliteCheckpointer.put_writes", "checkpoint put_writes"),
    ("tools.store", "Store.view", "store view (network read)"),
    ("tools.store", "Store.recent_actions_by_node", "store recent_actions_by_node"),
)


_INHERITED = object()  # the wrapped method was inherited: restore by deleting the wrapper


class PartCost(BaseModel):
    part: str
    ms_per_decision: float
    calls_per_decision: float


class PartsReport(BaseModel):
    decisions: int
    decision_cpu_ms_p50: float
    parts: list[PartCost]
    # Statements per measured decision, by their first words: those sent through SQLAlchemy and
    # those run on the driver by a `tools.store.driver_statements.DriverStatement` (it fires
    # the same cursor events); BEGIN and savepoints go to the driver bare and are not counted.
    statements_per_decision: float = 0.0
    statements: dict[str, float] = {}


class _Meter:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.on = False

    def wrap(self, label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                if self.on:
                    spent = time.thread_time() - t0
                    with self.lock:
                        self.seconds[label] += spent
                        self.calls[label] += 1

        return timed


@contextmanager
def _installed(meter: _Meter) -> Iterator[None]:
    import importlib

    undo: list[tuple[Any, str, Any]] = []  # (owner, name, own value or _INHERITED)
    try:
        for module_name, path, label in PARTS:
            owner: Any = importlib.import_module(module_name)
            *outer, name = path.split(".")
            for attr in outer:
                owner = getattr(owner, attr)
            own = vars(owner).get(name, _INHERITED)
            undo.append((owner, name, own))
            setattr(owner, name, meter.wrap(label, getattr(owner, name)))
        yield
    finally:
        for owner, name, own in reversed(undo):
            if own is _INHERITED:
                delattr(owner, name)
            else:
                setattr(owner, name, own)


def part_costs(n: int = 100, warmup: int = 20, nodes: int = 40, seed: int = 11) -> PartsReport:
    """Run `n` measured decisions of the bench workload (after `warmup`) and report each
    part's thread CPU per measured decision."""
    if n < 1 or warmup < 0:
        raise ValueError(f"need n >= 1 and warmup >= 0, got n={n}, warmup={warmup}")
    snapshot = bench_network(warmup + n, nodes, seed)
    meter = _Meter()
    meter.on = warmup == 0

    def progress(task: str, done: int, total: int) -> None:
        meter.on = task == "decisions" or (task == "warm-up" and done == total)

    statements: Counter[str] = Counter()

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if meter.on:
            statements[_statement_kind(statement)] += 1

    with (
        tempfile.TemporaryDirectory(prefix="execlayer-parts-") as tmp,
        _installed(meter),
        _listening(count),
    ):
        _, cpu, _, _ = decision_run(
            snapshot,
            bench_events(snapshot, warmup, start=0),
            bench_events(snapshot, n, start=warmup),
            [],
            Path(tmp),
            memory=False,
            progress=progress,
        )
    counted = n
    return PartsReport(
        decisions=n,
        decision_cpu_ms_p50=round(statistics.median(cpu), 3),
        parts=[
            PartCost(
                part=label,
                ms_per_decision=round(meter.seconds[label] * 1000 / counted, 3),
                calls_per_decision=round(meter.calls[label] / counted, 2),
            )
            for _, _, label in PARTS
        ],
        statements_per_decision=round(sum(statements.values()) / counted, 2),
        statements={k: round(v / counted, 2) for k, v in statements.most_common()},
    )


@contextmanager
def _listening(count: Callable[..., None]) -> Iterator[None]:
    """`count` called for every statement any engine runs, for the block only (statements
    run by a `DriverStatement` fire the same event)."""
    event.listen(Engine, "before_cursor_execute", count)
    try:
        yield
    finally:
        event.remove(Engine, "before_cursor_execute", count)


def _statement_kind(statement: str) -> str:
    """ "SELECT", or the verb and table of a write ("INSERT effects", "UPDATE inventory")."""
    words = statement.split()
    verb = words[0].upper() if words else ""
    if verb in ("INSERT", "DELETE") and len(words) > 2:
        return f"{verb} {words[2]}"
    if verb == "UPDATE" and len(words) > 1:
        return f"{verb} {words[1]}"
    return verb


def _print(report: PartsReport) -> None:
    from rich.console import Console
    from rich.table import Table

    top = max((p.ms_per_decision for p in report.parts), default=0.0) or 1.0
    table = Table(
        title=f"thread CPU per decision ({report.decisions} decisions, "
        f"decision CPU p50 {report.decision_cpu_ms_p50:.1f} ms)"
    )
    for column in ("part", "ms", "calls", ""):
        table.add_column(column, justify="left" if column in ("part", "") else "right")
    for p in report.parts:
        bar = "█" * max(1, round(24 * p.ms_per_decision / top)) if p.ms_per_decision else ""
        table.add_row(p.part, f"{p.ms_per_decision:.2f}", f"{p.calls_per_decision:g}", bar)
    Console().print(table)
    kinds = ", ".join(f"{k} {v:g}" for k, v in report.statements.items())
    Console().print(f"statements per decision: {report.statements_per_decision:g} ({kinds})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--nodes", type=int, default=40)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    report = part_costs(args.n, args.warmup, args.nodes)
    if args.json:
        print(json.dumps(report.model_dump(), indent=2))
    else:
        _print(report)


if __name__ == "__main__":
    main()
