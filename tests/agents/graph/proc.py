"""Run a resolver in a child process, optionally dying (os._exit) at a chosen point of act.

    python -m tests.agents.graph.proc resolve HOME EVENT_JSON [KILL_POINT] [POLICY_YAML]
    python -m tests.agents.graph.proc approve HOME APPROVAL_ID ACTOR

KILL_POINT: after-reserve | after-book | mid-release | none. Prints the decision as JSON.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import agents.execution
from agents.resolver import Resolver
from agents.state import HumanDecision
from guardrails import load_policy
from tests.agents.graph.fakes import settings_for
from tools.events import ExceptionEvent
from tools.store import Store

KILLED = 9


def die_after(function, calls: int = 1):
    count = {"n": 0}

    def wrapper(*args, **kwargs):
        result = function(*args, **kwargs)
        count["n"] += 1
        if count["n"] >= calls:
            sys.stdout.flush()
            os._exit(KILLED)
        return result

    return wrapper


def arm(kill_point: str) -> None:
    if kill_point == "after-reserve":
        agents.execution.reserve = die_after(agents.execution.reserve)
    elif kill_point == "after-book":
        original = agents.execution.PlanBuilder.book

        def book(self, *args, **kwargs):
            original(self, *args, **kwargs)
            op = self.plan.operations[-1]
            op.run = die_after(op.run)

        agents.execution.PlanBuilder.book = book
    elif kill_point == "mid-release":
        Store.release_hold = die_after(Store.release_hold)


def main(argv: list[str]) -> None:
    command, home = argv[0], Path(argv[1])
    if command == "resolve":
        event = ExceptionEvent.model_validate_json(argv[2])
        arm(argv[3] if len(argv) > 3 else "none")
        policy = load_policy(argv[4]) if len(argv) > 4 else None
        with Resolver.open(settings_for(home), policy=policy, use_memory=False) as resolver:
            print(resolver.resolve(event).model_dump_json())
    elif command == "approve":
        with Resolver.open(settings_for(home), use_memory=False) as resolver:
            decision = resolver.decide_approval(
                argv[2], HumanDecision(decision="approve", actor=argv[3], channel="cli")
            )
            print(decision.model_dump_json())


if __name__ == "__main__":
    main(sys.argv[1:])
