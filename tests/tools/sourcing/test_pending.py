"""`pending_candidates` is `generate_candidates` built lazily: the same ids, each `total` the
built candidate's score total, and each `make()` the candidate `generate_candidates` returns;
`judge` gives the same result on pending candidates as on built ones."""

from __future__ import annotations

import itertools

from agents.decide import judge
from tests.agents.test_judge_golden import bench_inputs as judged_inputs
from tests.tools.sourcing.test_candidates_golden import (
    bench_inputs,
    random_inputs,
    simulator_inputs,
)
from tools.decisions import Candidate
from tools.sourcing.candidates import generate_candidates, pending_candidates
from tools.sourcing.pending import PendingCandidate


def test_pending_candidates_build_the_generated_ones() -> None:
    checked = 0
    for view, situation, order_id, priorities, limits in itertools.chain(
        bench_inputs(), simulator_inputs(), random_inputs()
    ):
        built = generate_candidates(view, situation, order_id, priorities, limits)
        pending = pending_candidates(view, situation, order_id, priorities, limits)
        assert [p.id for p in pending] == [c.id for c in built]
        assert [p.total for p in pending] == [c.score.total for c in built]
        # Built in another order than generated (judge builds cheapest first, some never).
        made = {p.id: p.make() for p in reversed(pending)}
        for candidate in built:
            assert made[candidate.id] == candidate
            assert made[candidate.id].model_dump(mode="json") == candidate.model_dump(mode="json")
        checked += len(built)
    assert checked > 100


def test_judge_gives_the_same_on_pending_candidates() -> None:
    for candidates, guard in itertools.islice(judged_inputs(), 40):
        pending = [PendingCandidate.of(c) for c in candidates]
        assert judge(pending, guard) == judge(candidates, guard)


def _counted(c: Candidate, built: list[str]) -> PendingCandidate:
    """`c` as pending, noting its id in `built` when it is built."""

    def make() -> Candidate:
        built.append(c.id)
        return c

    return PendingCandidate(c.id, c.score.total, make)


def test_judge_builds_only_the_candidates_it_judges() -> None:
    for candidates, guard in itertools.islice(judged_inputs(), 40):
        built: list[str] = []
        judged, _ = judge([_counted(c, built) for c in candidates], guard)
        assert built == [c.id for c in judged]


def test_a_built_candidate_as_pending() -> None:
    for candidates, _ in itertools.islice(judged_inputs(), 3):
        for c in candidates:
            p = PendingCandidate.of(c)
            assert (p.id, p.total, p.make()) == (c.id, c.score.total, c)
