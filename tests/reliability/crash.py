"""Dying at any point of act, in-process (fast) or for real in a child process.

A kill point names where the resolver dies:
- `before:<stage>`: just before the first operation of a stage (reserve, book, release,
  repromise, notify) runs;
- `after:<stage>:<n>`: just after the n-th operation of that stage has run (and been written);
- `before:learn`: act finished, the decision not yet filed.

In-process the death is a `Crashed` (a BaseException: nothing in the resolver or LangGraph
handles it, like a kill it skips every `except Exception`); in a child it is `os._exit(9)`:

    python -m tests.reliability.crash resolve HOME EVENT_JSON KILL_POINT [POLICY_YAML]
    python -m tests.reliability.crash approve HOME APPROVAL_ID ACTOR KILL_POINT [POLICY_YAML]
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import agents.execution
import agents.graph

KILLED = 9


class Crashed(BaseException):  # a death, not an error
    """The process 'died' here."""


def _raise(point: str) -> None:
    raise Crashed(point)


def _exit(point: str) -> None:
    sys.stdout.flush()
    os._exit(KILLED)


@contextmanager
def armed(point: str | None, die: Callable[[str], None] = _raise) -> Iterator[list[str]]:
    """Arm `point` for the resolvers opened inside (the graph is compiled at open, so open
    the resolver inside this block). Yields the list of operations seen, as
    `stage:label` (useful to list the kill points of a scenario)."""
    seen: list[str] = []
    counts: Counter[str] = Counter()
    original_ordered = agents.execution.Plan.ordered
    original_learn = agents.graph.learn

    def ordered(self: agents.execution.Plan) -> list[agents.execution.Operation]:
        ops = original_ordered(self)
        wrapped = []
        for op in ops:
            wrapped.append(
                agents.execution.Operation(op.stage, op.key, op.label, _wrap(op), op.undo)
            )
        return wrapped

    def _wrap(op: agents.execution.Operation) -> Callable[[], str]:
        def run() -> str:
            if point == f"before:{op.stage}" and counts[op.stage] == 0:
                die(point)
            result = op.run()
            counts[op.stage] += 1
            seen.append(f"{op.stage}:{op.label}")
            if point == f"after:{op.stage}:{counts[op.stage]}":
                die(point)
            return result

        return run

    def learn(state: Any, runtime: Any) -> Any:
        if point == "before:learn" and state.get("executions"):
            die(point)
        return original_learn(state, runtime)

    agents.execution.Plan.ordered = ordered  # type: ignore[method-assign]
    agents.graph.learn = learn
    try:
        yield seen
    finally:
        agents.execution.Plan.ordered = original_ordered  # type: ignore[method-assign]
        agents.graph.learn = original_learn


def kill_points(operations: list[str]) -> list[str]:
    """Every point of a run whose operations (in order, as `stage:label`) are given."""
    points: list[str] = []
    counts: Counter[str] = Counter()
    for op in operations:
        stage = op.split(":", 1)[0]
        if counts[stage] == 0:
            points.append(f"before:{stage}")
        counts[stage] += 1
        points.append(f"after:{stage}:{counts[stage]}")
    return [*points, "before:learn"]


def main(argv: list[str]) -> None:  # pragma: no cover - runs in a child process
    from agents.resolver import Resolver
    from agents.state import HumanDecision
    from guardrails import load_policy
    from tests.agents.graph.fakes import settings_for
    from tools.events import ExceptionEvent

    command, home = argv[0], Path(argv[1])
    if command == "resolve":
        event = ExceptionEvent.model_validate_json(argv[2])
        policy = load_policy(argv[4]) if len(argv) > 4 else None
        with (
            armed(argv[3], _exit),
            Resolver.open(settings_for(home), policy=policy, use_memory=False) as resolver,
        ):
            print(resolver.resolve(event).model_dump_json())
    elif command == "approve":
        policy = load_policy(argv[5]) if len(argv) > 5 else None
        with (
            armed(argv[4], _exit),
            Resolver.open(settings_for(home), policy=policy, use_memory=False) as r,
        ):
            human = HumanDecision(decision="approve", actor=argv[3], channel="cli")
            print(r.decide_approval(argv[2], human).model_dump_json())


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
