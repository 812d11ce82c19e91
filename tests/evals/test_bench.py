"""`execlayer eval bench` at tiny sizes: the JSON has the issue's keys and sane figures."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from api.cli import app
from evals.bench import BenchConfig, Latency
from evals.bench_workload import FAMILIES, bench_events, bench_network


def test_bench_json_shape_and_sanity() -> None:
    result = CliRunner().invoke(
        app,
        [
            "eval", "bench", "--json", "--n", "4", "--warmup", "1", "--nodes", "8",
            "--stream", "3", "--http", "4", "--clients", "2", "--batch-orders", "60",
            "--batch-nodes", "10", "--batch-time-limit", "2",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    for key in ("floor_latency_ms", "decision_latency_ms", "floor_cpu_ms", "decision_cpu_ms"):
        lat = figures[key]
        assert set(lat) >= {"p50", "p99"}
        assert 0 < lat["p50"] <= lat["p99"]
    ratio = figures["decision_latency_ms"]["p50"] / figures["floor_latency_ms"]["p50"]
    assert figures["overhead_ratio_p50"] == pytest.approx(ratio, rel=1e-2)
    assert figures["throughput_per_s"] > 0
    assert figures["http_throughput_per_s"] > 0
    batch = figures["batch"]
    assert set(batch) >= {"orders", "nodes", "seconds", "gap_pct", "greedy_gap_pct"}
    assert (batch["orders"], batch["nodes"]) == (60, 10)
    assert batch["seconds"] > 0 and 0 <= batch["gap_pct"] <= 100
    # every measured exception was decided, every HTTP request answered with a decision
    assert sum(figures["decision_statuses"].values()) == 4
    assert set(figures["http_status_codes"]) <= {"200", "202"}
    assert sum(figures["http_status_codes"].values()) == 4


def test_bench_workload_has_every_family_on_distinct_orders() -> None:
    snapshot = bench_network(30, 8)
    events = bench_events(snapshot, 14)
    assert {e.type.value for e in events} == set(FAMILIES)
    touched = [o for e in events for o in e.orders]
    assert len(touched) == len(set(touched)) == 14
    with pytest.raises(ValueError, match="need 31 orders"):
        bench_events(snapshot, 2, start=29)


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError):
        BenchConfig(n=0)
    with pytest.raises(ValueError):
        Latency.of([])
    result = CliRunner().invoke(app, ["eval", "bench", "--n", "0"])
    assert result.exit_code == 2


def _shape(graph: object) -> tuple[set[str], set[tuple[str, str, bool]]]:
    drawn = graph.get_graph()  # type: ignore[attr-defined]
    return set(drawn.nodes), {(e.source, e.target, e.conditional) for e in drawn.edges}


def test_floor_has_the_resolver_graphs_shape_and_walks_the_auto_resolve_path() -> None:
    from langgraph.checkpoint.memory import InMemorySaver

    from agents.graph import build_graph
    from evals.bench import floor_graph

    real = build_graph().compile()
    floor = floor_graph("resolver").compile(checkpointer=InMemorySaver())
    assert _shape(floor) == _shape(real)
    assert len(_shape(floor)[0]) == 11  # nine steps, __start__ and __end__
    chain = floor_graph("chain").compile()
    assert _shape(chain) != _shape(real)

    event = bench_events(bench_network(4, 4), 1)[0]
    config = {"configurable": {"thread_id": event.id}}
    steps = [
        next(iter(update))
        for update in floor.stream({"event": event}, config, stream_mode="updates")
    ]
    assert steps == ["perceive", "decide", "guard", "act", "learn"]
    with pytest.raises(ValueError, match="shape must be one of"):
        floor_graph("star")


def test_build_graph_refuses_missing_or_extra_steps() -> None:
    from agents.graph import build_graph, resolver_steps

    steps = resolver_steps()
    with pytest.raises(ValueError, match="steps must be exactly"):
        build_graph({k: v for k, v in steps.items() if k != "act"})
    with pytest.raises(ValueError, match="steps must be exactly"):
        build_graph({**steps, "extra": steps["act"]})
