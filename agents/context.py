"""Run-time dependencies of the resolver graph (LangGraph `context_schema`).

Nothing here is checkpointed: the store, the policy, the LLM advisor, precedent memory, the
carrier adapter and a small per-process cache of the network views that steps of one run
share (perceive reads the network once; decide and guard reuse it in the same process).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Generic, TypeVar

from guardrails.context import GuardContext
from guardrails.policy import Policy
from tools.booking import CarrierAdapter
from tools.decisions import now_utc
from tools.sourcing.situation import Situation
from tools.store import Store
from tools.view import NetworkView

if TYPE_CHECKING:  # heavy (openai, chromadb): imported only where they are used
    from agents.advisor import LlmAdvisor
    from agents.memory import PrecedentMemory


V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class Perception:
    view: NetworkView
    situation: Situation


class ViewCache:
    """A bounded, thread-safe map exception id -> the view and situation perceived for it."""

    def __init__(self, capacity: int = 256) -> None:
        self._items: OrderedDict[str, Perception] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def put(self, exception_id: str, perception: Perception) -> None:
        with self._lock:
            self._items[exception_id] = perception
            self._items.move_to_end(exception_id)
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)

    def get(self, exception_id: str) -> Perception | None:
        with self._lock:
            return self._items.get(exception_id)

    def drop(self, exception_id: str) -> None:
        with self._lock:
            self._items.pop(exception_id, None)


class Handoff(Generic[V]):
    """A value one step computed moments ago, handed to the next step that needs the same
    (the reference check's read of a new exception to perceive; decide's guardrail context
    to guard), so it is not computed again. Taken once; an entry older than `max_age_s` is
    never handed out (the step then computes it afresh). Act never uses one: it re-checks
    against a fresh read."""

    def __init__(self, capacity: int = 256, max_age_s: float = 1.0) -> None:
        self._items: OrderedDict[tuple[str, ...], tuple[float, V]] = OrderedDict()
        self._capacity = capacity
        self._max_age_s = max_age_s
        self._lock = threading.Lock()

    def put(self, key: tuple[str, ...], value: V) -> None:
        with self._lock:
            self._items[key] = (time.monotonic(), value)
            self._items.move_to_end(key)
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)

    def take(self, key: tuple[str, ...]) -> V | None:
        with self._lock:
            found = self._items.pop(key, None)
        if found is None or time.monotonic() - found[0] > self._max_age_s:
            return None
        return found[1]


@dataclass(slots=True)
class ResolverContext:
    store: Store
    policy: Policy
    carrier: CarrierAdapter
    advisor: LlmAdvisor | None = None
    memory: PrecedentMemory | None = None
    views: ViewCache = field(default_factory=ViewCache)
    reads: Handoff[NetworkView] = field(default_factory=Handoff)
    guards: Handoff[GuardContext] = field(default_factory=Handoff)
    clock: Callable[[], datetime] = now_utc
    # Called with (kind, payload) for pending approvals, escalations and failures, e.g. to
    # post to Slack. Failures of the notifier never fail a decision (the outbox retries).
    announce: Callable[[str, Mapping[str, object]], None] | None = None
