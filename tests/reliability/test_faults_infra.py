"""Infrastructure faults: the database going away mid-decision, carriers failing or timing
out, Slack refusing connections, precedent memory (chromadb) down.

- Database: writes start failing at the k-th write of a resolution (k spread over the whole
  run). The resolution stops with a clear error, nothing is half-written (a decision is never
  on record without its executed actions), and once the database is back the start-up path
  finishes the run to exactly what an uninterrupted run leaves behind.
- Carrier: a timeout (retried under the same key, then given up), an answer lost after the
  carrier did book, and every service timing out: compensation cancels bookings and releases
  reservations; nothing stays booked or held for the plan that did not go ahead.
- Slack refusing connections, chromadb down: decisions continue; messages wait in the outbox
  and go out once Slack is back.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlalchemy import Engine, event, text

from agents.memory import PrecedentMemory
from agents.resolver import ResolutionError
from api.dispatcher import OutboxDispatcher
from api.notifiers import LoggingCustomerNotifier
from api.slack.gateway import SlackGateway, SlackOpsNotifier
from tests.agents.graph.fakes import event as make_event
from tests.agents.graph.fakes import open_resolver
from tests.api.conftest import SLACK_CHANNEL, SLACK_TOKEN, auth
from tests.reliability.harness import engine_of, hostile_settings, open_app
from tests.reliability.test_faults_kill import ledger
from tools.booking import Booking, BookingError, BookingRequest, FailurePlan, SimulatedCarrier
from tools.network import NetworkSnapshot, dump_snapshot
from tools.store import OutboxStatus, Store

P1 = make_event(id="EX-DB1", type="node_overload", orders=["O-1001"], node="STORE-BOS")
WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class Outage:
    """The store's database fails every write from the `after`-th on (None: never), like a
    disk gone or a server unreachable; reads keep working so the damage can be inspected."""

    def __init__(self, engine: Engine, after: int | None = None) -> None:
        self.engine, self.after, self.writes, self.down = engine, after, 0, False
        event.listen(engine, "before_cursor_execute", self.check)

    def check(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith(WRITES):
            return
        if self.after is not None and self.writes >= self.after:
            self.down = True
        self.writes += 1
        if self.down:
            raise sqlite3.OperationalError("disk I/O error (injected: database unavailable)")

    def lift(self) -> None:
        self.down, self.after = False, None
        event.remove(self.engine, "before_cursor_execute", self.check)


@contextmanager
def outage(store: Store, after: int | None) -> Iterator[Outage]:
    cut = Outage(engine_of(store), after)
    try:
        yield cut
    finally:
        if event.contains(cut.engine, "before_cursor_execute", cut.check):
            cut.lift()


def decisions_without_their_actions(store: Store) -> list[str]:
    """Executed decisions on record whose actions are not all applied."""
    found = []
    with engine_of(store).connect() as conn:
        rows = conn.execute(text("SELECT id FROM exceptions WHERE decision IS NOT NULL"))
        for (exception_id,) in rows:
            record = store.get_exception(exception_id)
            decision = record.decision if record is not None else None
            if decision is None or decision.status.value not in ("auto_resolved", "resolved"):
                continue
            applied = conn.execute(
                text(
                    "SELECT COUNT(*) FROM action_log WHERE exception_id = :e AND status = 'applied'"
                ),
                {"e": exception_id},
            ).scalar_one()
            if applied < len(decision.actions):
                found.append(exception_id)
    return found


def test_database_down_mid_decision(tmp_path: Path, surge: NetworkSnapshot) -> None:
    base = tmp_path / "base"
    with open_resolver(base, surge):
        pass
    reference = tmp_path / "reference"
    shutil.copytree(base, reference)
    with open_resolver(reference) as resolver, outage(resolver.store, None) as counter:
        expected_decision = resolver.resolve(P1)
        total = counter.writes
        expected = ledger(resolver.store)
    assert total >= 10
    points = sorted({0, 1, 2, total // 4, total // 2, (3 * total) // 4, total - 2, total - 1})
    problems: list[str] = []
    for k in points:
        home = tmp_path / f"k{k}"
        shutil.copytree(base, home)
        with open_resolver(home) as resolver:
            with outage(resolver.store, k), pytest.raises(Exception) as stopped:
                resolver.resolve(P1)
            message = str(stopped.value)
            if not isinstance(stopped.value, ResolutionError) and k > 0:
                problems.append(f"write {k}: unclear failure {type(stopped.value).__name__}")
            if "database unavailable" not in message and "disk I/O" not in message:
                problems.append(f"write {k}: the error does not say why: {message[:200]}")
            if decisions_without_their_actions(resolver.store):
                problems.append(f"write {k}: a decision without its actions")
        with open_resolver(home) as resolver:  # the database is back; a restart
            finished = resolver.recover(lease=timedelta(0))
            decision = finished[0] if finished else resolver.resolve(P1)
            if decision.actions != expected_decision.actions:
                problems.append(f"write {k}: different actions after recovery")
            found = ledger(resolver.store)
            problems += [
                f"write {k}: {p} differ: {found[p]} != {expected[p]}"
                for p in expected
                if found[p] != expected[p] and p != "network"
            ]
            if found["network"] != expected["network"]:
                problems.append(f"write {k}: network differs")
    assert problems == [], "\n".join(problems)


async def test_database_down_through_the_api(tmp_path: Path, surge: NetworkSnapshot) -> None:
    body = P1.model_dump(mode="json")
    async with open_app(hostile_settings(tmp_path, llm=False), surge, use_llm=False) as api:
        with outage(api.store, 0):
            down = await api.client.post("/v1/exceptions", json=body, headers=auth("operator"))
            health = await api.client.get("/healthz")
        assert down.status_code == 503, down.text
        assert down.json()["error"] and "unavailable" in down.text
        assert health.status_code in (200, 503)
        back = await api.client.post("/v1/exceptions", json=body, headers=auth("operator"))
        assert back.status_code == 200, back.text
        again = await api.client.post("/v1/exceptions", json=body, headers=auth("operator"))
        assert again.json() == back.json()
        assert decisions_without_their_actions(api.store) == []


# ----------------------------------------------------------------- carriers


class LostAnswerCarrier(SimulatedCarrier):
    """Books, then 'times out' before answering, once per key: the booking exists at the
    carrier but the caller never heard (the retry under the same key must find it)."""

    def __init__(self, store: Store, failure: FailurePlan | None = None) -> None:
        super().__init__(store, failure)
        self.lost: set[str] = set()
        self.lock = threading.Lock()

    def book(self, request: BookingRequest) -> Booking:
        booking = super().book(request)
        with self.lock:
            if request.idempotency_key not in self.lost:
                self.lost.add(request.idempotency_key)
                raise BookingError("read timed out after 30 s", retryable=True)
        return booking


def booked(store: Store) -> list[tuple[str, str, str]]:
    with engine_of(store).connect() as conn:
        rows = conn.execute(text("SELECT key, carrier_service, state FROM bookings"))
        return sorted((r[0], r[1], r[2]) for r in rows)


def test_carrier_timeouts_are_compensated(tmp_path: Path, surge: NetworkSnapshot) -> None:
    with open_resolver(tmp_path / "probe", surge) as probe:
        service = probe.resolve(P1).actions[0].carrier_service
    assert service is not None
    with open_resolver(tmp_path / "t", surge) as resolver:
        resolver.context.carrier = SimulatedCarrier(
            resolver.store, FailurePlan(timeout_services=frozenset({service}))
        )
        decision = resolver.resolve(P1)
        assert decision.status.value == "auto_resolved"
        assert all(service not in a.carrier_services() for a in decision.actions)
        rows = booked(resolver.store)
        assert [r for r in rows if r[2] == "booked"] and all(
            r[1] != service for r in rows if r[2] == "booked"
        )
        steps = [(e.step, e.status) for e in resolver.store.audit_trail(P1.id).actions]
        assert ("book", "failed") in steps and ("compensate", "compensated") in steps
        assert (
            len([r for r in resolver.store.held_reservations() if r.key.startswith("EX-DB1:")]) == 1
        )


def test_lost_carrier_answer_books_once(tmp_path: Path, surge: NetworkSnapshot) -> None:
    with open_resolver(tmp_path, surge) as resolver:
        resolver.context.carrier = LostAnswerCarrier(resolver.store)
        decision = resolver.resolve(P1)
        assert decision.status.value == "auto_resolved"
        assert len([r for r in booked(resolver.store) if r[2] == "booked"]) == 1


def test_every_carrier_timing_out_escalates_with_everything_undone(
    tmp_path: Path, surge: NetworkSnapshot
) -> None:
    every = frozenset(s.id for c in surge.carriers for s in c.services)
    with open_resolver(tmp_path, surge) as resolver:
        before = dump_snapshot(resolver.store.export_snapshot())
        resolver.context.carrier = LostAnswerCarrier(
            resolver.store, FailurePlan(timeout_services=every)
        )
        decision = resolver.resolve(P1)
        assert decision.status.value == "escalated"
        assert dump_snapshot(resolver.store.export_snapshot()) == before
        assert all(r[2] == "cancelled" for r in booked(resolver.store))
        assert [r for r in resolver.store.held_reservations() if r.key.startswith("EX-DB1:")] == []


# ----------------------------------------------------------------- Slack and chromadb down


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC) + timedelta(seconds=1)

    def __call__(self) -> datetime:
        return self.now


async def test_slack_refusing_connections_then_back(tmp_path: Path, surge: NetworkSnapshot) -> None:
    from tests.api.slack_standin import SlackStandIn, load_examples
    from tests.conftest import EXTERNAL

    standin = SlackStandIn(load_examples(EXTERNAL), token=SLACK_TOKEN).start()
    url = standin.base_url
    standin.stop()  # nothing listens on that port: connections are refused
    settings = hostile_settings(tmp_path, llm=False, slack_api_url=url, slack_channel=SLACK_CHANNEL)
    async with open_app(settings, surge, use_llm=False) as api:
        stockout = {
            "id": "EX-SL1",
            "type": "stockout",
            "occurred_at": "2026-11-24T09:05:00Z",
            "orders": ["O-1004"],
            "node": "DC-NJ",
            "sku": "SKU-GLOVES",
        }
        answer = await api.client.post("/v1/exceptions", json=stockout, headers=auth("operator"))
        assert answer.status_code == 202  # decided (waits for a person) although Slack is down
        overload = P1.model_dump(mode="json")
        assert (
            await api.client.post("/v1/exceptions", json=overload, headers=auth("operator"))
        ).status_code == 200
        clock = Clock()
        pinned = Store.open(
            str(engine_of(api.store).url.render_as_string(hide_password=False)), clock=clock
        )
        gateway = SlackGateway(WebClient(token=SLACK_TOKEN, base_url=url), SLACK_CHANNEL)
        dispatcher = OutboxDispatcher(
            pinned,
            SlackOpsNotifier(gateway),
            LoggingCustomerNotifier(),
            backoff_s=5,
            max_attempts=5,
        )
        first = await asyncio.to_thread(dispatcher.drain_once)
        assert "approval-requested:AP-EX-SL1" in first.retried
        item = next(
            i
            for i in api.store.due_outbox(now=clock.now + timedelta(days=1))
            if i.key == "approval-requested:AP-EX-SL1"
        )
        assert item.status is OutboxStatus.PENDING and item.attempts == 1
        # Slack is back (the dispatcher of the restarted server reaches it).
        back = SlackStandIn(load_examples(EXTERNAL), token=SLACK_TOKEN).start()
        try:
            gateway = SlackGateway(
                WebClient(token=SLACK_TOKEN, base_url=back.base_url), SLACK_CHANNEL
            )
            dispatcher = OutboxDispatcher(
                pinned, SlackOpsNotifier(gateway), LoggingCustomerNotifier(), backoff_s=5
            )
            clock.now += timedelta(minutes=30)
            second = await asyncio.to_thread(dispatcher.drain_once)
            assert "approval-requested:AP-EX-SL1" in second.sent
            assert back.named("chat.postMessage")
            sent = api.store.get_outbox(item.id)
            assert sent is not None and sent.status is OutboxStatus.SENT
        finally:
            back.stop()
            pinned.close()


def test_chromadb_down_mid_run_decisions_continue(
    tmp_path: Path, surge: NetworkSnapshot, caplog: pytest.LogCaptureFixture
) -> None:
    memory = PrecedentMemory.open(None)
    with open_resolver(tmp_path, surge) as resolver:
        resolver.context.memory = memory
        first = resolver.resolve(P1)
        memory.close()  # the collection goes away under the resolver
        second = resolver.resolve(
            make_event(id="EX-DB2", type="node_overload", orders=["O-1005"], node="DC-NJ")
        )
    assert first.status.value == "auto_resolved"
    assert second.status.value in ("auto_resolved", "pending_approval")
    assert "precedent" in caplog.text.lower() and "unavailable" in caplog.text.lower()
