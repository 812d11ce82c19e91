"""The queue worker on SQLite: claims, stale claims taken back, bad work set aside."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from agents.worker import Worker
from tests.agents.graph.fakes import open_resolver
from tools.events import ExceptionEvent
from tools.inputs import load_snapshot
from tools.store import ExceptionStatus


def overload(exception_id: str, order: str = "O-1001") -> ExceptionEvent:
    return ExceptionEvent.model_validate(
        {
            "id": exception_id,
            "type": "node_overload",
            "occurred_at": "2026-11-24T09:05:00Z",
            "orders": [order],
            "node": "STORE-BOS",
            "details": {"backlog_units": 1300},
        }
    )


def test_a_dead_workers_claim_is_requeued_and_decided_once(
    tmp_path: Path, northeast_path: Path
) -> None:
    with open_resolver(tmp_path, load_snapshot(northeast_path)) as resolver:
        resolver.enqueue(overload("EX-W1"))
        # another worker claimed it and died before deciding
        claimed = resolver.store.claim_next_exception("dead-worker")
        assert claimed is not None and claimed.id == "EX-W1"
        assert Worker(resolver).drain(once=True).decided == 0  # a fresh claim is left alone
        report = Worker(resolver, lease=timedelta(0)).drain(once=True)
        assert report.requeued == ["EX-W1"] and report.decided == 1
        record = resolver.store.get_exception("EX-W1")
        assert record is not None and record.decision is not None
        assert record.status == ExceptionStatus.AUTO_RESOLVED
        assert record.attempts == 2 and record.claimed_by == resolver.worker_id
        assert len(resolver.store.audit_trail("EX-W1").decisions) == 1


def test_work_that_became_invalid_is_set_aside_not_retried(
    tmp_path: Path, northeast_path: Path
) -> None:
    northeast = load_snapshot(northeast_path)
    with open_resolver(tmp_path, northeast) as resolver:
        resolver.enqueue(overload("EX-W2", "O-1002"))
        resolver.enqueue(overload("EX-W3"))
        gone = northeast.model_copy(
            update={"orders": [o for o in northeast.orders if o.id != "O-1002"]}
        )
        resolver.store.load_snapshot(gone)  # O-1002 left the network after it was queued
        report = Worker(resolver, concurrency=2).drain(once=True)
        assert report.decided == 1 and len(report.failed) == 1
        assert "EX-W2" in report.failed[0]
        failed = resolver.store.get_exception("EX-W2")
        assert failed is not None and failed.status == ExceptionStatus.FAILED
        assert resolver.store.claim_next_exception("anyone") is None  # not queued again
