"""Exceptions (idempotent registration, the worker queue), approvals and the outbox."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from tools.decisions import Approval, ApprovalStatus, Decision, DecisionStatus
from tools.events import ExceptionEvent
from tools.store import ExceptionStatus, InvalidRequest, NotFound, OutboxStatus, Store

from .multiproc import run_in_processes

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def _event(i: int) -> ExceptionEvent:
    return ExceptionEvent.model_validate(
        {
            "id": f"EX-{i:04d}",
            "type": "node_overload",
            "occurred_at": "2026-11-24T09:05:00Z",
            "orders": ["O-1001"],
            "node": "STORE-BOS",
        }
    )


def _decision(exception_id: str, status: DecisionStatus) -> Decision:
    return Decision(exception_id=exception_id, status=status, policy_version="test")


# ---------------------------------------------------------------- exceptions


def test_registering_twice_is_one_exception(store: Store) -> None:
    first, created = store.register_exception(_event(1))
    again, created_again = store.register_exception(_event(1))
    assert created and not created_again
    assert again == first and first.status == "queued" and first.decision is None
    assert store.get_exception("EX-0001") == first
    assert store.get_exception("EX-9999") is None


def test_racing_registrations_make_one_record(store: Store) -> None:
    start = threading.Barrier(8)

    def register(_: int) -> bool:
        start.wait()
        return store.register_exception(_event(7))[1]

    with ThreadPoolExecutor(8) as pool:
        created = list(pool.map(register, range(8)))
    assert created.count(True) == 1


def test_decisions_are_saved_and_listed(store: Store) -> None:
    clock = Clock()
    timed = Store(store.engine, clock=clock)
    for i in range(5):
        timed.register_exception(_event(i))
        clock.now += timedelta(seconds=1)
    record = timed.save_decision("EX-0003", _decision("EX-0003", DecisionStatus.PENDING_APPROVAL))
    assert record.status == "pending_approval" and record.decision is not None
    assert record.decision.status is DecisionStatus.PENDING_APPROVAL
    timed.save_decision("EX-0001", _decision("EX-0001", DecisionStatus.FAILED), "escalated")
    assert [r.id for r in timed.list_exceptions()] == [f"EX-{i:04d}" for i in (4, 3, 2, 1, 0)]
    assert [r.id for r in timed.list_exceptions(limit=2, offset=1)] == ["EX-0003", "EX-0002"]
    assert [r.id for r in timed.list_exceptions(status="escalated")] == ["EX-0001"]
    with pytest.raises(NotFound):
        timed.save_decision("EX-9", _decision("EX-9", DecisionStatus.FAILED))
    with pytest.raises(InvalidRequest, match="status"):
        timed.list_exceptions(status="sleeping")
    with pytest.raises(InvalidRequest, match="limit"):
        timed.list_exceptions(limit=0)


def test_workers_claim_oldest_first_and_stale_claims_come_back(store: Store) -> None:
    clock = Clock()
    timed = Store(store.engine, clock=clock)
    for i in range(3):
        timed.register_exception(_event(i))
        clock.now += timedelta(seconds=1)
    timed.register_exception(_event(9), status=ExceptionStatus.PROCESSING)  # not queued
    a = timed.claim_next_exception("w1")
    b = timed.claim_next_exception("w2")
    assert a is not None and b is not None
    assert (a.id, a.claimed_by, a.status, a.attempts) == ("EX-0000", "w1", "processing", 1)
    assert b.id == "EX-0001"
    clock.now += timedelta(minutes=10)
    c = timed.claim_next_exception("w3")
    assert c is not None and c.id == "EX-0002"
    assert timed.claim_next_exception("w4") is None
    requeued = timed.requeue_stale_claims(claimed_before=T0 + timedelta(minutes=5))
    assert requeued == ["EX-0000", "EX-0001"]  # EX-0002 is recent; EX-0009 was never claimed
    again = timed.claim_next_exception("w5")
    assert again is not None and again.id == "EX-0000" and again.attempts == 2
    back = timed.set_exception_status("EX-0002", "queued")
    assert back.claimed_by is None


def _drain(url: str, worker: str) -> list[str]:
    with Store.open(url) as store:
        claimed = []
        while (record := store.claim_next_exception(worker)) is not None:
            claimed.append(record.id)
        return claimed


def test_each_queued_exception_goes_to_exactly_one_worker(store_url: str) -> None:
    with Store.open(store_url) as store:
        for i in range(40):
            store.register_exception(_event(i))
    claims = run_in_processes(_drain, [(store_url, f"w{i}") for i in range(4)])
    everything = [eid for claimed in claims for eid in claimed]
    assert sorted(everything) == [f"EX-{i:04d}" for i in range(40)]
    print(f"\nclaims per worker: {[len(c) for c in claims]}")


# ---------------------------------------------------------------- approvals


def test_approvals_are_created_once_and_decided_once(store: Store) -> None:
    approval = Approval(id="AP-1", reasons=["cost +$40 > $25"])
    record, created = store.create_approval(approval, "EX-0001")
    assert created and record.status is ApprovalStatus.PENDING
    assert record.exception_id == "EX-0001" and record.requested_at is not None
    assert record.to_approval().reasons == approval.reasons
    assert store.create_approval(approval, "EX-0001") == (record, False)
    assert store.list_approvals("pending") == [record]

    assert store.decide_approval("AP-1", "approved", "alice", "slack", "fine")
    assert not store.decide_approval("AP-1", "rejected", "bob", "api", None)
    decided = store.get_approval("AP-1")
    assert decided is not None
    assert (decided.status, decided.decided_by, decided.channel, decided.comment) == (
        ApprovalStatus.APPROVED,
        "alice",
        "slack",
        "fine",
    )
    assert store.list_approvals("pending") == []
    assert store.list_approvals(exception_id="EX-0001") == [decided]
    assert not store.decide_approval("AP-404", "approved", "alice", "api", None)
    with pytest.raises(InvalidRequest, match="status"):
        store.decide_approval("AP-1", "pending", "alice", "api", None)
    with pytest.raises(InvalidRequest, match="status"):
        store.create_approval(Approval(id="AP-2", reasons=[], status="approved"), "EX-1")


def test_exactly_one_of_many_racing_deciders_wins(store: Store) -> None:
    store.create_approval(Approval(id="AP-R", reasons=["x"]), "EX-1")
    start = threading.Barrier(10)

    def decide(i: int) -> bool:
        start.wait()
        return store.decide_approval("AP-R", "approved" if i % 2 else "rejected", f"u{i}", "api")

    with ThreadPoolExecutor(10) as pool:
        wins = list(pool.map(decide, range(10)))
    assert wins.count(True) == 1
    winner = wins.index(True)
    final = store.get_approval("AP-R")
    assert final is not None and final.decided_by == f"u{winner}"


# ---------------------------------------------------------------- outbox


def test_outbox_is_idempotent_by_key_and_retries_when_told(store: Store) -> None:
    clock = Clock()
    timed = Store(store.engine, clock=clock)
    first = timed.enqueue_outbox("slack.approval", {"text": "approve?"}, key="EX-1:slack")
    assert timed.enqueue_outbox("slack.approval", {"text": "other"}, key="EX-1:slack") == first
    later = timed.enqueue_outbox(
        "webhook", {"n": 2}, key="EX-1:hook", not_before=T0 + timedelta(minutes=5)
    )
    assert [i.id for i in timed.due_outbox(10)] == [first]
    assert [i.id for i in timed.due_outbox(10, now=T0 + timedelta(minutes=5))] == [first, later]

    timed.mark_outbox_failed(first, "503 from slack", retry_at=T0 + timedelta(minutes=1))
    item = timed.get_outbox(first)
    assert item is not None
    assert (item.status, item.attempts, item.last_error) == (
        OutboxStatus.PENDING,
        1,
        "503 from slack",
    )
    assert timed.due_outbox(10) == []
    clock.now = T0 + timedelta(minutes=1)
    assert [i.id for i in timed.due_outbox(10)] == [first]
    timed.mark_outbox_sent(first)
    timed.mark_outbox_sent(first)  # again: no change
    sent = timed.get_outbox(first)
    assert sent is not None and sent.status is OutboxStatus.SENT and sent.attempts == 2
    timed.mark_outbox_failed(later, "410 gone", retry_at=None)
    gone = timed.get_outbox(later)
    assert gone is not None and gone.status is OutboxStatus.FAILED
    assert timed.due_outbox(10, now=T0 + timedelta(days=1)) == []
    with pytest.raises(NotFound):
        timed.mark_outbox_sent(999)
    with pytest.raises(NotFound):
        timed.mark_outbox_failed(999, "x", None)


def test_dispatchers_lease_outbox_messages_without_sharing_them(store: Store) -> None:
    clock = Clock()
    timed = Store(store.engine, clock=clock)
    ids = [timed.enqueue_outbox("hook", {"i": i}, key=f"m-{i}") for i in range(30)]
    start = threading.Barrier(6)

    def dispatch(_: int) -> list[int]:
        start.wait()
        got: list[int] = []
        while batch := timed.claim_outbox(limit=4, lease=timedelta(minutes=5)):
            got.extend(item.id for item in batch)
        return got

    with ThreadPoolExecutor(6) as pool:
        claimed = [i for got in pool.map(dispatch, range(6)) for i in got]
    assert sorted(claimed) == ids  # every message leased once, to one dispatcher
    for item_id in ids[:-1]:
        timed.mark_outbox_sent(item_id)
    clock.now += timedelta(minutes=5)  # the last one's dispatcher never reported back
    assert [i.id for i in timed.claim_outbox(limit=10)] == [ids[-1]]
    with pytest.raises(InvalidRequest, match="lease"):
        timed.claim_outbox(limit=1, lease=timedelta(0))
