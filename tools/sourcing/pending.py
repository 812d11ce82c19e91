"""A candidate whose id and score total are known but whose model is not built yet.

`generate_candidates` builds every candidate it returns (actions, explained score). The
decide step judges only the cheapest few (`agents.decide.judge`) and drops the rest unread,
so it takes `pending_candidates` instead and builds a candidate only when it judges it: the
same candidate `generate_candidates` returns under that id.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tools.decisions import Candidate


@dataclass(frozen=True, slots=True)
class PendingCandidate:
    """`id` and `total` are the built candidate's `id` and `score.total`; `make()` builds it."""

    id: str
    total: float
    make: Callable[[], Candidate]

    @classmethod
    def of(cls, candidate: Candidate) -> PendingCandidate:
        """An already built candidate, as a pending one."""
        return cls(candidate.id, candidate.score.total, lambda: candidate)
