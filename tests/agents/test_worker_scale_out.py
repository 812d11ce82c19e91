"""Scale-out: two worker PROCESSES drain one PostgreSQL queue of 500 exceptions.

Proves each exception was claimed once and decided once (one decision in the store, one in
the audit log, each step's idempotency key done once) and that no unit was oversold.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from agents.resolver import Resolver
from evals.bench_workload import bench_events, bench_network
from tests.agents.graph.fakes import settings_for
from tools.store import ExceptionStatus

REPO = Path(__file__).resolve().parents[2]
QUEUE = 500


def start_worker(url: str, home: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXECLAYER_LLM_")}
    env.update(EXECLAYER_HOME=str(home), ANONYMIZED_TELEMETRY="False")
    return subprocess.Popen(
        [
            sys.executable, "-c", "from api.cli import app; app()", "worker",
            "--db", url, "--once", "--concurrency", "2", "--no-memory", "--json",
        ],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


@pytest.mark.postgres
def test_two_worker_processes_decide_each_queued_exception_exactly_once(
    pg_url: str, tmp_path: Path
) -> None:
    t0 = time.monotonic()
    snapshot = bench_network(QUEUE + 20, 8, seed=5)
    events = bench_events(snapshot, QUEUE, prefix="EX-Q")
    with Resolver.open(settings_for(tmp_path), db_url=pg_url, use_memory=False) as resolver:
        resolver.store.load_snapshot(snapshot)
        for event in events:
            record, created = resolver.enqueue(event)
            assert created and record.status == ExceptionStatus.QUEUED
        assert not resolver.enqueue(events[0])[1]  # the same id again: one exception

    queued_s = time.monotonic() - t0
    workers = [start_worker(pg_url, tmp_path / f"w{i}") for i in range(2)]
    reports = []
    for proc in workers:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err[-3000:]
        reports.append(json.loads(out.strip().splitlines()[-1]))

    worked_s = time.monotonic() - t0 - queued_s
    print(f"\nqueued {QUEUE} in {queued_s:.1f} s; two workers drained it in {worked_s:.1f} s")
    assert sum(r["decided"] for r in reports) == QUEUE
    assert all(r["decided"] > 0 for r in reports), reports  # both took a share
    worker_ids = {r["worker_id"] for r in reports}
    with Resolver.open(settings_for(tmp_path), db_url=pg_url, use_memory=False) as resolver:
        store = resolver.store
        records = store.list_exceptions(limit=1000)
        assert len(records) == QUEUE
        for record in records:
            assert record.decision is not None, record.id
            assert record.status not in (ExceptionStatus.QUEUED, ExceptionStatus.PROCESSING)
            assert record.attempts == 1, record.id  # claimed once, by one worker
            assert record.claimed_by in worker_ids
            trail = store.audit_trail(record.id)
            assert len(trail.decisions) == 1, record.id  # decided once
            done = Counter(a.key for a in trail.actions if a.status == "done")
            assert all(n == 1 for n in done.values()), (record.id, done)  # each step once
            applied = [a for a in trail.actions if a.status == "applied"]
            assert len(applied) == len(record.decision.actions) * (
                record.decision.status.value in ("auto_resolved", "resolved")
            )
        statuses = Counter(r.status for r in records)
        assert statuses[ExceptionStatus.AUTO_RESOLVED] > 0, statuses
        # at most one live booking per order; no position oversold
        for event in events:
            booked = [b for b in store.bookings_for_order(event.orders[0]) if b.state == "booked"]
            assert len(booked) <= 1, (event.orders[0], booked)
        for position in store.export_snapshot().inventory:
            assert 0 <= position.reserved <= position.on_hand, position
