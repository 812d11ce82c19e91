"""What the assistant needs from the resolver, whichever front-end runs it.

The sync `Resolver` (CLI) and the `AsyncResolver` (the HTTP API, Slack, the console) share
`ResolverCore`; the assistant is synchronous and reaches either through this small port:
the store and policy to read, precedent memory when present, and two callables that go
through the resolver graph (`resolve` an event; `decide_approval`, which re-checks the
guardrails against the current state before acting). The API builds its port with
callables that run the `AsyncResolver` coroutines on the server's event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from agents.state import HumanDecision
from guardrails.policy import Policy
from tools.decisions import Decision, now_utc
from tools.events import ExceptionEvent
from tools.store import Store

if TYPE_CHECKING:
    from agents.memory import PrecedentMemory
    from agents.resolver import Resolver


@dataclass(frozen=True)
class AssistantBackend:
    store: Store
    policy: Policy
    resolve: Callable[[ExceptionEvent], Decision]
    decide_approval: Callable[[str, HumanDecision], Decision]
    memory: PrecedentMemory | None = None
    clock: Callable[[], datetime] = now_utc  # "now" of a what-if (the resolver's clock)

    @classmethod
    def from_resolver(cls, resolver: Resolver) -> AssistantBackend:
        return cls(
            store=resolver.store,
            policy=resolver.context.policy,
            resolve=resolver.resolve,
            decide_approval=resolver.decide_approval,
            memory=resolver.context.memory,
            clock=resolver.context.clock,
        )
