"""The resolver's lifecycle: crashes mid-act, approvals across processes, duplicates,
compensation of failed steps, re-checks against fresh state, learning from outcomes."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from agents.memory import PrecedentMemory
from agents.state import HumanDecision
from guardrails import default_policy, override_policy
from tests.agents.graph.checks import assert_respects_policy
from tests.agents.graph.fakes import event, open_resolver
from tools.booking import FailurePlan, SimulatedCarrier
from tools.decisions import Decision, OrderOutcome
from tools.inputs import load_snapshot
from tools.network import NetworkSnapshot, NodeStatus, dump_snapshot

REPO = Path(__file__).resolve().parents[3]
P1 = event(id="EX-K1", type="node_overload", orders=["O-1001"], node="STORE-BOS")


@pytest.fixture
def surge(northeast_path: Path) -> NetworkSnapshot:
    snap = load_snapshot(northeast_path)
    nodes = [
        n.model_copy(update={"backlog_units": 1300}) if n.id == "STORE-BOS" else n
        for n in snap.nodes
    ]
    return snap.model_copy(update={"nodes": nodes})


def child(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tests.agents.graph.proc", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def seed(home: Path, snapshot: NetworkSnapshot) -> None:
    with open_resolver(home, snapshot):
        pass


def held(resolver, exception_id: str) -> list:
    return [r for r in resolver.store.held_reservations() if r.key.startswith(exception_id + ":")]


@pytest.mark.parametrize("kill_point", ["after-reserve", "after-book", "mid-release"])
def test_killed_between_act_steps_resumes_without_doubles(
    tmp_path: Path, surge: NetworkSnapshot, kill_point: str
) -> None:
    # Reference: the same exception resolved without interruption.
    reference = tmp_path / "reference"
    seed(reference, surge)
    done = child("resolve", str(reference), P1.model_dump_json())
    assert done.returncode == 0, done.stderr
    with open_resolver(reference) as r:
        expected_state = dump_snapshot(r.store.export_snapshot())

    home = tmp_path / "crashed"
    seed(home, surge)
    killed = child("resolve", str(home), P1.model_dump_json(), kill_point)
    assert killed.returncode == 9, killed.stderr  # died mid-act, after a checkpoint
    with open_resolver(home) as resolver:
        assert resolver.decision(P1.id) is None
        finished = resolver.recover(lease=timedelta(0))  # the start-up path takes it over
        assert [d.exception_id for d in finished] == [P1.id]
        decision = finished[0]
        assert decision.status.value == "auto_resolved"
        assert len(held(resolver, P1.id)) == 1  # one reservation, not two
        assert len(resolver.store.bookings_for_order("O-1001")) == 1  # one booking
        assert dump_snapshot(resolver.store.export_snapshot()) == expected_state
        # And asking again is a duplicate: same decision, nothing more done.
        assert resolver.resolve(P1).model_dump(exclude={"latency_ms"}) == decision.model_dump(
            exclude={"latency_ms"}
        )
        assert len(resolver.store.bookings_for_order("O-1001")) == 1


def test_fresh_claim_is_not_stolen(tmp_path: Path, surge: NetworkSnapshot) -> None:
    home = tmp_path / "h"
    seed(home, surge)
    assert child("resolve", str(home), P1.model_dump_json(), "after-book").returncode == 9
    with open_resolver(home) as resolver:
        assert resolver.recover() == []  # claimed seconds ago: presumed alive, left alone
        assert resolver.decision(P1.id) is None


def test_approval_raised_in_one_process_resumed_in_another(
    tmp_path: Path, northeast_path: Path
) -> None:
    home = tmp_path / "h"
    seed(home, load_snapshot(northeast_path))
    stockout = event(id="EX-A1", type="stockout", orders=["O-1004"], node="DC-NJ", sku="SKU-GLOVES")
    first = child("resolve", str(home), stockout.model_dump_json())
    assert first.returncode == 0, first.stderr
    pending = Decision.model_validate_json(first.stdout)
    assert pending.status.value == "pending_approval"
    assert pending.approval is not None and pending.approval.reasons
    second = child("approve", str(home), pending.approval.id, "dana@ops")
    assert second.returncode == 0, second.stderr
    resolved = Decision.model_validate_json(second.stdout)
    assert resolved.status.value == "resolved"
    assert resolved.decided_by.value == "human"
    assert resolved.approval.decided_by == "dana@ops"
    assert resolved.actions == pending.actions
    with open_resolver(home) as resolver:
        order = resolver.store.get_order("O-1004")
        assert order.status.value == "backordered"
        trail = resolver.store.audit_trail("EX-A1")
        assert [e.event for e in trail.approvals] == ["requested", "approved"]
        assert trail.approvals[-1].actor == "dana@ops"
        # A second approval of the same request changes nothing.
        with pytest.raises(Exception, match="already approved"):
            resolver.decide_approval(
                pending.approval.id, HumanDecision(decision="approve", actor="eve")
            )


def test_rejection_executes_nothing(tmp_path: Path, northeast_path: Path) -> None:
    snap = load_snapshot(northeast_path)
    with open_resolver(tmp_path, snap) as resolver:
        pending = resolver.resolve(
            event(id="EX-R1", type="stockout", orders=["O-1004"], sku="SKU-GLOVES")
        )
        decision = resolver.decide_approval(
            pending.approval.id,
            HumanDecision(decision="reject", actor="sam", comment="call the customer"),
        )
        assert decision.status.value == "rejected"
        assert decision.actions == []
        assert "call the customer" in decision.rationale
        assert resolver.store.get_order("O-1004").status.value == "allocated"


def test_duplicates_return_the_first_decision_and_act_once(
    tmp_path: Path, surge: NetworkSnapshot
) -> None:
    with open_resolver(tmp_path, surge) as resolver:
        results: list[Decision] = []
        errors: list[BaseException] = []

        def go() -> None:
            try:
                results.append(resolver.resolve(P1))
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=go) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert len({d.model_dump_json(exclude={"latency_ms"}) for d in results}) == 1
        assert len(held(resolver, P1.id)) == 1
        assert len(resolver.store.bookings_for_order("O-1001")) == 1


def test_failed_booking_is_compensated_then_decided_again(
    tmp_path: Path, surge: NetworkSnapshot
) -> None:
    with open_resolver(tmp_path, surge) as probe:
        first_choice = probe.resolve(P1.model_copy(update={"id": "EX-PROBE"}))
    service = first_choice.actions[0].carrier_service
    node = first_choice.actions[0].node
    with open_resolver(tmp_path / "b", surge) as resolver:
        resolver.context.carrier = SimulatedCarrier(
            resolver.store, FailurePlan(reject_services=frozenset({service}))
        )
        before = resolver.store.get_position(node, "SKU-TENT").reserved
        decision = resolver.resolve(P1)
        assert decision.status.value == "auto_resolved"
        assert all(service not in a.carrier_services() for a in decision.actions)
        steps = [(e.step, e.status) for e in resolver.store.audit_trail(P1.id).actions]
        assert ("book", "failed") in steps and ("compensate", "compensated") in steps
        chosen_node = decision.actions[0].node
        # The failed attempt's reservation was released: only the final plan holds stock.
        assert len(held(resolver, P1.id)) == 1
        expected = before + (1 if chosen_node == node else 0)
        assert resolver.store.get_position(node, "SKU-TENT").reserved == expected
        assert_respects_policy(decision, surge)


def test_second_failure_escalates_with_everything_rolled_back(
    tmp_path: Path, surge: NetworkSnapshot
) -> None:
    every_service = frozenset(s.id for c in surge.carriers for s in c.services)
    with open_resolver(tmp_path, surge) as resolver:
        resolver.context.carrier = SimulatedCarrier(
            resolver.store, FailurePlan(reject_services=every_service)
        )
        before = dump_snapshot(resolver.store.export_snapshot())
        decision = resolver.resolve(P1)
        assert decision.status.value == "escalated"
        assert "already retried once" in decision.rationale
        assert held(resolver, P1.id) == []
        assert dump_snapshot(resolver.store.export_snapshot()) == before


def test_state_that_moved_while_waiting_for_approval_is_rechecked(
    tmp_path: Path, surge: NetworkSnapshot
) -> None:
    recommend = override_policy(default_policy(), {"autonomy": "recommend"})
    with open_resolver(tmp_path, surge, policy=recommend) as resolver:
        pending = resolver.resolve(P1)
        assert pending.status.value == "pending_approval"
        target = pending.actions[0].node
        # Meanwhile the node the plan uses closes.
        nodes = [
            n.model_copy(update={"status": NodeStatus.CLOSED}) if n.id == target else n
            for n in surge.nodes
        ]
        resolver.store.load_snapshot(surge.model_copy(update={"nodes": nodes}))
        again = resolver.decide_approval(
            pending.approval.id, HumanDecision(decision="approve", actor="kim")
        )
        # The approved plan is now denied: decided again (once), and it needs a person again.
        assert again.status.value == "pending_approval"
        assert again.approval.id != pending.approval.id
        assert all(target not in a.nodes() for a in again.actions)
        assert held(resolver, P1.id) == []


def test_outcomes_teach_reliability_that_later_decisions_use(
    tmp_path: Path, surge: NetworkSnapshot
) -> None:
    with open_resolver(tmp_path, surge) as resolver:
        before = resolver.store.view(["O-1002"]).reliability("SWIFT", "NE")
        for i in range(12):
            resolver.record_outcome(
                OrderOutcome(
                    order="O-1002",
                    carrier="SWIFT",
                    region="NE",
                    delivered_on_time=False,
                    note=f"late {i}",
                )
            )
        after = resolver.store.view(["O-1002"]).reliability("SWIFT", "NE")
        assert after < before - 0.2
        report = resolver.record_outcome(
            OrderOutcome(order="O-1001", node="STORE-BOS", expected_units=10, picked_units=4)
        )
        assert report.node_accuracy["STORE-BOS"] < 0.92
        decision = resolver.resolve(event(id="EX-S1", type="sla_risk", orders=["O-1002"]))
        assert all("SWIFT" not in s for a in decision.actions for s in a.carrier_services())


def test_carrier_reliability_learns_from_the_carriers_own_eta(
    tmp_path: Path, surge: NetworkSnapshot
) -> None:
    """A parcel that beat the promise thanks to slack but came late against the carrier's
    own ETA counts against the carrier; without `carrier_on_time` the promise stands in."""
    with open_resolver(tmp_path, surge) as resolver:
        before = resolver.store.view(["O-1002"]).reliability("SWIFT", "NE")
        for i in range(6):
            resolver.record_outcome(
                OrderOutcome(
                    order="O-1002",
                    carrier="SWIFT",
                    region="NE",
                    delivered_on_time=True,
                    carrier_on_time=False,
                    note=f"slack saved it {i}",
                )
            )
        late_eta = resolver.store.view(["O-1002"]).reliability("SWIFT", "NE")
        assert late_eta < before
        for i in range(6):
            resolver.record_outcome(
                OrderOutcome(
                    order="O-1002",
                    carrier="SWIFT",
                    region="NE",
                    delivered_on_time=True,
                    note=f"on time {i}",
                )
            )
        assert resolver.store.view(["O-1002"]).reliability("SWIFT", "NE") > late_eta


def test_precedents_are_remembered_and_recalled(tmp_path: Path, surge: NetworkSnapshot) -> None:
    memory = PrecedentMemory.open(None)
    with open_resolver(tmp_path, surge) as resolver:
        resolver.context.memory = memory
        resolver.resolve(P1)
        resolver.resolve(event(id="EX-K2", type="node_overload", orders=["O-1005"], node="DC-NJ"))
        trail = resolver.store.audit_trail("EX-K2")
        signals = trail.decisions[-1].payload["signals"]
        assert signals["precedents"][0]["exception_id"] == P1.id
    assert memory.count() == 2
    memory.close()
