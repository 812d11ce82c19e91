"""The resolver graph: perceive -> decide -> guard -> [approve] -> act -> learn.

```
perceive ──> decide ──> guard ──> act ──> learn ──> END
   │           │  ▲       │        │ ▲      ▲  ▲
   │           │  └───────┼────────┘ │      │  │
   │           │          └─> request_approval -> approve ─┘ (approved)
   │           │                                   └─> reject ─┘
   └───────────┴──> escalate ─────────────────────────────────┘
```
Thread id = exception id. Routing reads the `route` each step writes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from agents.act import act
from agents.approval import approve, escalate, reject, request_approval
from agents.context import ResolverContext
from agents.decide import decide
from agents.guard import guard
from agents.learn import learn
from agents.perceive import perceive
from agents.state import ResolverState


def _route(state: ResolverState) -> str:
    return state.get("route") or "escalate"


STEPS = (
    "perceive",
    "decide",
    "guard",
    "request_approval",
    "approve",
    "act",
    "reject",
    "escalate",
    "learn",
)


def resolver_steps() -> dict[str, Callable[..., Any]]:
    """The step functions by node name (looked up when called: `evals.bench_parts` wraps
    them in this module to time them)."""
    return {
        "perceive": perceive,
        "decide": decide,
        "guard": guard,
        "request_approval": request_approval,
        "approve": approve,
        "act": act,
        "reject": reject,
        "escalate": escalate,
        "learn": learn,
    }


def build_graph(
    steps: Mapping[str, Callable[..., Any]] | None = None,
) -> StateGraph[ResolverState, ResolverContext, ResolverState, ResolverState]:
    """The resolver graph. `steps` replaces the node functions (every name of `STEPS`): the
    benchmark's floor is this graph, same nodes and edges, with trivial steps."""
    steps = resolver_steps() if steps is None else steps
    if set(steps) != set(STEPS):
        raise ValueError(f"steps must be exactly {sorted(STEPS)}, got {sorted(steps)}")
    graph: StateGraph[ResolverState, ResolverContext, ResolverState, ResolverState] = StateGraph(
        ResolverState, context_schema=ResolverContext
    )
    for name in STEPS:
        graph.add_node(name, steps[name])

    graph.add_edge(START, "perceive")
    graph.add_conditional_edges("perceive", _route, {"decide": "decide", "escalate": "escalate"})
    graph.add_conditional_edges(
        "decide", _route, {"guard": "guard", "escalate": "escalate", "done": "learn"}
    )
    graph.add_conditional_edges(
        "guard", _route, {"act": "act", "approve": "request_approval", "escalate": "escalate"}
    )
    graph.add_edge("request_approval", "approve")
    graph.add_conditional_edges("approve", _route, {"act": "act", "reject": "reject"})
    graph.add_conditional_edges(
        "act",
        _route,
        {
            "learn": "learn",
            "decide": "decide",
            "escalate": "escalate",
            "approve": "request_approval",
        },
    )
    graph.add_edge("reject", "learn")
    graph.add_edge("escalate", "learn")
    graph.add_edge("learn", END)
    return graph


ResolverGraph = CompiledStateGraph[ResolverState, ResolverContext, ResolverState, ResolverState]


def compile_graph(checkpointer: BaseCheckpointSaver[Any]) -> ResolverGraph:
    return build_graph().compile(checkpointer=checkpointer)
