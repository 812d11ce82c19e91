"""`execlayer eval bench`: how fast a signal becomes a committed decision, and at what rate.

One run measures, on the embedded default (no LLM; SQLite store and SQLite checkpointer in a
fresh temporary directory):

(a) the floor: a bare LangGraph graph of the resolver's shape (perceive -> decide -> guard ->
    act -> learn) whose nodes do nothing, with the same checkpointer kind, the same
    serializer, the same state schema, the same per-exception thread ids and durability;
(b) the full decision path: the sync `Resolver` on a realistic network (`evals.bench_workload`),
    a new exception id each time, several families, after a warm-up; the overhead ratio is
    (b) / (a) at the median;
(c) throughput of a stream of exceptions in-process (the sync resolver, one after the other)
    and through the HTTP API (uvicorn on loopback, several concurrent httpx clients,
    `api.app.create_app`);
(d) batch re-sourcing of many orders over many nodes (`run_batch_benchmark`: seconds, the
    gap to the LP bound, the static-rules baseline's gap).

Nothing here asserts a time: the figures are printed (rich tables with bars, or `--json`).
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agents.heap import settle
from evals.bench_workload import FAMILIES, bench_events, bench_network
from tools.events import ExceptionEvent
from tools.network import NetworkSnapshot


class BenchConfig(BaseModel):
    """Sizes of one bench run (defaults: the figures the README quotes)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    n: int = Field(default=200, ge=1, description="measured decisions (and floor runs)")
    warmup: int = Field(default=20, ge=0, description="decisions before measuring")
    nodes: int = Field(default=40, ge=2, description="nodes of the decision network")
    stream: int = Field(default=200, ge=1, description="exceptions of the in-process stream")
    http: int = Field(default=200, ge=1, description="exceptions sent through the HTTP API")
    http_clients: int = Field(default=4, ge=1, description="concurrent HTTP clients")
    batch_orders: int = Field(default=10_000, ge=1)
    batch_nodes: int = Field(default=200, ge=2)
    batch_time_limit_s: float = Field(default=5.0, gt=0)
    memory: bool = Field(default=False, description="with precedent memory (chromadb files)")
    seed: int = 11


class Latency(BaseModel):
    p50: float
    p99: float
    mean: float
    n: int

    @classmethod
    def of(cls, samples_ms: list[float]) -> Latency:
        if not samples_ms:
            raise ValueError("no samples")
        ordered = sorted(samples_ms)
        p99 = ordered[min(len(ordered) - 1, max(0, round(0.99 * len(ordered)) - 1))]
        return cls(
            p50=round(statistics.median(ordered), 3),
            p99=round(p99, 3),
            mean=round(statistics.fmean(ordered), 3),
            n=len(ordered),
        )


Progress = Callable[[str, int, int], None]


def _no_progress(task: str, done: int, total: int) -> None:
    return None


# -- (a) the floor -------------------------------------------------------------------------
FLOOR_SHAPES = ("resolver", "chain")
# The auto-resolve path through the resolver graph: each trivial step routes to the next.
_AUTO_RESOLVE_ROUTES = {"perceive": "decide", "decide": "guard", "guard": "act", "act": "learn"}


def floor_graph(shape: str) -> Any:
    """The floor's graph, uncompiled. `resolver`: the resolver's own graph (`agents.graph.
    build_graph`: the same nine nodes, the same conditional edges, the same state and
    context schemas) with trivial steps that route along the auto-resolve path (perceive ->
    decide -> guard -> act -> learn); `chain`: those five trivial steps on plain edges (the
    floor of earlier rounds, kept for comparison)."""
    from langgraph.graph import END, START, StateGraph

    from agents.graph import STEPS, build_graph
    from agents.state import ResolverState

    def trivial(route: str) -> Any:  # a node: (state) -> update
        def node(state: ResolverState) -> ResolverState:
            return {"route": route}

        return node

    if shape == "resolver":
        return build_graph(
            {name: trivial(_AUTO_RESOLVE_ROUTES.get(name, "done")) for name in STEPS}
        )
    if shape != "chain":
        raise ValueError(f"shape must be one of {', '.join(FLOOR_SHAPES)}, got {shape!r}")
    steps = ("perceive", "decide", "guard", "act", "learn")
    graph: StateGraph[ResolverState, None, ResolverState, ResolverState] = StateGraph(ResolverState)
    previous = START
    for step, following in zip(steps, (*steps[1:], "done"), strict=True):
        graph.add_node(step, trivial(following))
        graph.add_edge(previous, step)
        previous = step
    graph.add_edge(previous, END)
    return graph


def floor_latencies(
    events: list[ExceptionEvent],
    workdir: Path,
    progress: Progress = _no_progress,
    settle_after: int | None = None,
    shape: str = "resolver",
) -> tuple[list[float], list[float]]:
    """Milliseconds per run of a bare graph of the resolver's shape (`floor_graph`: trivial
    nodes) on a SQLite checkpointer, thread id = exception id, durability `sync` (as the
    resolver). `settle_after`: after that many runs (the warm-up), settle the heap as a
    long-running process does (`agents.heap.settle`), as `decision_run` does after its
    warm-up."""
    from agents.checkpoints import sqlite_checkpoint_path, sqlite_saver

    graph = floor_graph(shape)
    saver = sqlite_saver(
        sqlite_checkpoint_path(f"sqlite:///{(workdir / f'floor-{shape}.db').as_posix()}")
    )
    try:
        compiled = graph.compile(checkpointer=saver)
        samples: list[float] = []
        cpu: list[float] = []
        for i, event in enumerate(events):
            if i == settle_after:
                settle()
            t0, c0 = time.perf_counter(), time.process_time()
            compiled.invoke(
                {"event": event, "started_ns": time.time_ns()},
                {"configurable": {"thread_id": event.id}},
                durability="sync",
            )
            samples.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
            progress("floor" if shape == "resolver" else f"floor ({shape})", i + 1, len(events))
    finally:
        saver.conn.close()
    return samples, cpu


# -- (b) and (c): the decision path, in-process ---------------------------------------------
def _settings(workdir: Path, **values: Any) -> Any:
    from tools.settings import Settings

    return Settings(
        home=workdir, db_url=f"sqlite:///{(workdir / 'execlayer.db').as_posix()}", **values
    )


def decision_run(
    snapshot: NetworkSnapshot,
    warmup: list[ExceptionEvent],
    measured: list[ExceptionEvent],
    stream: list[ExceptionEvent],
    workdir: Path,
    memory: bool,
    progress: Progress = _no_progress,
) -> tuple[list[float], list[float], Counter[str], float]:
    """(milliseconds per measured decision, CPU milliseconds of the process per measured
    decision, statuses, stream decisions per second)."""
    from agents.resolver import Resolver

    settings = _settings(workdir)
    statuses: Counter[str] = Counter()
    with Resolver.open(settings, use_llm=False, use_memory=memory) as resolver:
        resolver.store.load_snapshot(snapshot)
        for i, event in enumerate(warmup):
            resolver.resolve(event)
            progress("warm-up", i + 1, len(warmup))
        settle()  # as a server or worker does once started (agents.heap)
        samples: list[float] = []
        cpu: list[float] = []
        for i, event in enumerate(measured):
            t0, c0 = time.perf_counter(), time.process_time()
            decision = resolver.resolve(event)
            samples.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
            statuses[decision.status.value] += 1
            progress("decisions", i + 1, len(measured))
        t0 = time.perf_counter()
        for i, event in enumerate(stream):
            resolver.resolve(event)
            progress("stream", i + 1, len(stream))
        elapsed = time.perf_counter() - t0
    return samples, cpu, statuses, len(stream) / elapsed if elapsed > 0 else 0.0


# -- (c) through the HTTP API --------------------------------------------------------------
def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _server(app: Any) -> Iterator[str]:
    """`app` under uvicorn on a loopback port, in a thread; its base URL."""
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="bench-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the bench server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def http_run(
    snapshot: NetworkSnapshot,
    events: list[ExceptionEvent],
    clients: int,
    workdir: Path,
    memory: bool,
    progress: Progress = _no_progress,
) -> tuple[float, Counter[str]]:
    """(decisions per second through `POST /v1/exceptions`, HTTP status codes)."""
    import httpx

    from api.app import create_app
    from tools.store import Store

    key = "bench-" + os.urandom(8).hex()
    settings = _settings(workdir, api_keys=f"bench={key}:operator")
    with Store.open(settings.database_url) as store:
        store.load_snapshot(snapshot)
    app = create_app(settings, use_llm=False, use_memory=memory)
    codes: Counter[str] = Counter()
    done = 0

    async def drive(base: str) -> float:
        nonlocal done
        queue: asyncio.Queue[ExceptionEvent] = asyncio.Queue()
        for event in events:
            queue.put_nowait(event)
        headers = {"Authorization": f"Bearer {key}"}

        async def client() -> None:
            nonlocal done
            async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as http:
                while not queue.empty():
                    event = queue.get_nowait()
                    response = await http.post(
                        "/v1/exceptions",
                        content=event.model_dump_json(),
                        headers={"Content-Type": "application/json"},
                    )
                    codes[str(response.status_code)] += 1
                    done += 1
                    progress("http", done, len(events))

        t0 = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        return time.perf_counter() - t0

    with _server(app) as base:
        elapsed = asyncio.run(drive(base))
    return (len(events) / elapsed if elapsed > 0 else 0.0), codes


# -- the whole run --------------------------------------------------------------------------
def run_bench(config: BenchConfig, progress: Progress = _no_progress) -> dict[str, Any]:
    """Every figure of one bench run as one JSON-able dict (keys of issue 9, and more)."""
    from tools.sourcing.synthetic import run_batch_benchmark

    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    decided = config.warmup + config.n + config.stream
    snapshot = bench_network(decided + config.http, config.nodes, config.seed)
    warmup = bench_events(snapshot, config.warmup, start=0)
    measured = bench_events(snapshot, config.n, start=config.warmup)
    stream = bench_events(snapshot, config.stream, start=config.warmup + config.n)
    over_http = bench_events(snapshot, config.http, prefix="EX-HTTP", start=decided)
    with tempfile.TemporaryDirectory(prefix="execlayer-bench-") as tmp:
        root = Path(tmp)
        for sub in ("floor", "decide", "http"):
            (root / sub).mkdir()
        floor_events = bench_events(snapshot, config.warmup + config.n, prefix="EX-FLOOR")
        floor_all, floor_cpu_all = floor_latencies(
            floor_events, root / "floor", progress, settle_after=config.warmup, shape="resolver"
        )
        floor, floor_cpu = floor_all[config.warmup :], floor_cpu_all[config.warmup :]
        chain_all, _ = floor_latencies(
            floor_events, root / "floor", progress, settle_after=config.warmup, shape="chain"
        )
        chain = chain_all[config.warmup :]
        samples, cpu, statuses, throughput = decision_run(
            snapshot, warmup, measured, stream, root / "decide", config.memory, progress
        )
        http_rate, codes = http_run(
            snapshot, over_http, config.http_clients, root / "http", config.memory, progress
        )
    progress("batch", 0, 1)
    batch = run_batch_benchmark(
        config.batch_orders, config.batch_nodes, seed=7, time_limit_s=config.batch_time_limit_s
    )
    progress("batch", 1, 1)
    floor_latency, chain_latency = Latency.of(floor), Latency.of(chain)
    decision_latency = Latency.of(samples)
    floor_cpu_ms, decision_cpu_ms = Latency.of(floor_cpu), Latency.of(cpu)
    return {
        "floor_latency_ms": floor_latency.model_dump(),
        "decision_latency_ms": decision_latency.model_dump(),
        "overhead_ratio_p50": round(decision_latency.p50 / floor_latency.p50, 3),
        # The floor of earlier rounds: the five auto-resolve steps on plain edges, without
        # the resolver's other nodes and conditional edges (see `floor_graph`).
        "floor_chain_latency_ms": chain_latency.model_dump(),
        "overhead_ratio_chain_p50": round(decision_latency.p50 / chain_latency.p50, 3),
        # CPU time of the process (all its threads) per run: robust to other load on the
        # machine, which inflates wall-clock latency of the CPU-heavier path far more.
        "floor_cpu_ms": floor_cpu_ms.model_dump(),
        "decision_cpu_ms": decision_cpu_ms.model_dump(),
        "overhead_ratio_cpu_p50": round(decision_cpu_ms.p50 / max(floor_cpu_ms.p50, 1e-3), 3),
        "load_average_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "throughput_per_s": round(throughput, 2),
        "http_throughput_per_s": round(http_rate, 2),
        "batch": {
            "orders": batch["orders"],
            "nodes": batch["nodes"],
            "seconds": batch["seconds"],
            "gap_pct": batch["gap_pct"],
            "greedy_gap_pct": batch["greedy_gap_pct"],
            "method": batch["method"],
            "time_limited": batch["time_limited"],
            "lower_bound": batch["lower_bound"],
            "objective": batch["objective"],
            "greedy_objective": batch["greedy_objective"],
            "greedy_capacity_violations": batch["greedy_capacity_violations"],
        },
        "decision_statuses": dict(sorted(statuses.items())),
        "http_status_codes": dict(sorted(codes.items())),
        "http_clients": config.http_clients,
        "workload": {
            "nodes": config.nodes,
            "orders": len(snapshot.orders),
            "families": list(FAMILIES),
            "measured": config.n,
            "warmup": config.warmup,
            "stream": config.stream,
            "http": config.http,
            "memory": config.memory,
            "checkpointer": "sqlite",
            "store": "sqlite",
            # Both paths: the heap settled after the warm-up, as in `execlayer serve`/`worker`.
            "gc": "agents.heap.settle after warm-up",
        },
        "machine": {"cpus": os.cpu_count()},
    }
