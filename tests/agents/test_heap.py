"""`agents.heap.settle`: start-up objects frozen, young collections less frequent, idempotent."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from agents.heap import YOUNG_THRESHOLD, settle
from agents.resolver import Resolver
from evals.bench import _settings
from evals.bench_workload import FAMILIES, bench_events, bench_network


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restored_gc")
def test_settle_freezes_what_is_alive_and_raises_the_young_threshold() -> None:
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    alive = [object() for _ in range(10)]
    settle()
    assert gc.get_freeze_count() > len(alive)
    assert gc.get_threshold() == (YOUNG_THRESHOLD, 10, 10)
    settle()  # again: nothing breaks, the threshold stays
    assert gc.get_threshold() == (YOUNG_THRESHOLD, 10, 10)


@pytest.mark.usefixtures("restored_gc")
def test_cycles_made_after_settling_are_still_collected() -> None:
    settle()

    class Node:
        other: object = None

    a, b = Node(), Node()
    a.other, b.other = b, a
    del a, b
    assert gc.collect() >= 2


@pytest.fixture
def saved_garbage() -> Iterator[list[object]]:
    """The cyclic collector off, and what it would free kept in `gc.garbage` instead."""
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    del gc.garbage[:]
    try:
        yield gc.garbage
    finally:
        gc.set_debug(0)
        del gc.garbage[:]
        if was_enabled:
            gc.enable()


def test_a_decision_leaves_nothing_of_ours_to_the_cyclic_collector(
    tmp_path: Path, saved_garbage: list[object]
) -> None:
    """Everything a decision allocates (the candidate search, the execution plan, views) is
    freed by reference counting as soon as it is done with: reference cycles through our
    objects made every decision leave ~750 objects for the collector, whose passes then
    cost ~1 ms per decision on the bench."""
    snapshot = bench_network(len(FAMILIES) * 3, 8)
    events = bench_events(snapshot, len(FAMILIES) * 3)  # every family, three times
    with Resolver.open(_settings(tmp_path), use_llm=False, use_memory=False) as resolver:
        resolver.store.load_snapshot(snapshot)
        for event in events[: len(FAMILIES)]:  # warm-up: caches, first imports
            resolver.resolve(event)
        gc.collect()
        del saved_garbage[:]
        for event in events[len(FAMILIES) :]:
            resolver.resolve(event)
        gc.collect()
        ours = sorted(
            {
                f"{type(o).__module__}.{type(o).__qualname__}"
                for o in saved_garbage
                if type(o).__module__.split(".")[0] in {"tools", "agents", "guardrails"}
            }
        )
    assert ours == []
