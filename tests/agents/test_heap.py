"""`agents.heap.settle`: start-up objects frozen, young collections less frequent, idempotent."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from agents.heap import YOUNG_THRESHOLD, settle


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
