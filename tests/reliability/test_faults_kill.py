"""The process dies at EVERY step of act; the next start-up's `recover()` finishes the run.

For three runs (a reallocation: reserve, book, release; a backorder: release, re-promise,
notify; an approved batch over three orders: two reservations, two bookings, releases,
notify) every kill point is tried: before the first operation of each stage, after each
operation, and before learn. After recovery the outcome is exactly the uninterrupted run's:
the same network (inventory, reservations, backlogs, allocations, promises), the same
reservation, booking and outbox rows (no duplicates), one decision.

In CI the death is in-process (`tests.reliability.crash.Crashed`); with
`EXECLAYER_RUN_SLOW=1` every point is also killed for real (`os._exit` in a child process).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import text

from agents.state import HumanDecision
from guardrails import default_policy, override_policy
from guardrails.policy_schema import Policy
from tests.agents.graph.fakes import event, open_resolver
from tests.reliability.crash import KILLED, Crashed, armed, kill_points
from tests.reliability.harness import engine_of, surge_of
from tools.events import ExceptionEvent
from tools.inputs import load_snapshot
from tools.network import NetworkSnapshot, dump_snapshot
from tools.store import Store

REPO = Path(__file__).resolve().parents[2]
PERMISSIVE = {
    "approval": {
        "max_repromise_days": 365,
        "always": [],
        "max_cost_increase_per_order": 1_000_000.0,
        "max_cost_increase_pct_of_order": 10.0,
    }
}


@dataclass(frozen=True)
class Scenario:
    name: str
    event: ExceptionEvent
    permissive: bool = False
    approve: bool = False  # the run needs a person: the kill happens in the approved run

    @property
    def policy(self) -> Policy:
        return override_policy(default_policy(), PERMISSIVE if self.permissive else {})


SCENARIOS = {
    s.name: s
    for s in (
        Scenario(
            "reallocate",
            event(id="EX-KR", type="node_overload", orders=["O-1001"], node="STORE-BOS"),
        ),
        Scenario(
            "backorder",
            event(
                id="EX-KB",
                type="stockout",
                orders=["O-1004"],
                node="DC-NJ",
                sku="SKU-GLOVES",
                details={"restock_days": 3},
            ),
            permissive=True,
        ),
        Scenario(
            "approved-batch",
            event(id="EX-KA", type="node_outage", node="DC-NJ"),
            permissive=True,
            approve=True,
        ),
    )
}


def ledger(store: Store) -> dict[str, Any]:
    """What execution leaves behind, row by row."""
    with engine_of(store).connect() as conn:

        def rows(sql: str) -> list[tuple[Any, ...]]:
            return sorted(tuple(r) for r in conn.execute(text(sql)))

        return {
            "network": dump_snapshot(store.export_snapshot()),
            "reservations": rows("SELECT key, node, sku, qty, state FROM reservations"),
            "bookings": rows("SELECT key, carrier_service, order_id, state FROM bookings"),
            "outbox": rows("SELECT key, kind FROM outbox"),
            "effects": rows("SELECT key, kind FROM effects"),
            "decisions": rows("SELECT exception_id, COUNT(*) FROM decision_log GROUP BY 1"),
            "applied": rows(
                "SELECT key, COUNT(*) FROM action_log WHERE status = 'applied' GROUP BY 1"
            ),
        }


def seeded(home: Path, scenario: Scenario, snapshot: NetworkSnapshot) -> str | None:
    """A store with the network (and, for an approval scenario, the pending approval);
    returns the approval id."""
    with open_resolver(home, snapshot, policy=scenario.policy) as resolver:
        if not scenario.approve:
            return None
        pending = resolver.resolve(scenario.event)
        assert pending.status.value == "pending_approval" and pending.approval is not None
        return pending.approval.id


def run(home: Path, scenario: Scenario, approval_id: str | None) -> Any:
    with open_resolver(home, policy=scenario.policy) as resolver:
        if approval_id is not None:
            human = HumanDecision(decision="approve", actor="dana@ops", channel="cli")
            return resolver.decide_approval(approval_id, human)
        return resolver.resolve(scenario.event)


def recovered(home: Path, scenario: Scenario) -> tuple[Any, dict[str, Any]]:
    """A fresh start-up: recover() finishes the interrupted run; then a duplicate submission
    returns the same decision and does nothing more."""
    with open_resolver(home, policy=scenario.policy) as resolver:
        finished = resolver.recover(lease=timedelta(0))
        assert [d.exception_id for d in finished] == [scenario.event.id]
        decision = finished[0]
        again = resolver.resolve(scenario.event)
        assert again.model_dump(exclude={"latency_ms"}) == decision.model_dump(
            exclude={"latency_ms"}
        )
        return decision, ledger(resolver.store)


@pytest.fixture(scope="module")
def surge_net(examples_dir: Path) -> NetworkSnapshot:
    return surge_of(load_snapshot(examples_dir / "network-northeast.json"))


@pytest.mark.parametrize("name", SCENARIOS)
def test_killed_at_every_step_of_act_resumes_exactly_once(
    tmp_path: Path, surge_net: NetworkSnapshot, name: str
) -> None:
    scenario = SCENARIOS[name]
    base = tmp_path / "base"
    approval_id = seeded(base, scenario, surge_net)
    reference = tmp_path / "reference"
    shutil.copytree(base, reference)
    with armed(None) as operations:
        expected_decision = run(reference, scenario, approval_id)
    with open_resolver(reference, policy=scenario.policy) as resolver:
        expected = ledger(resolver.store)
    assert expected_decision.status.value in ("auto_resolved", "resolved")
    points = kill_points(operations)
    stages = {op.split(":", 1)[0] for op in operations}
    assert stages >= {"release"} and len(points) >= 6, operations

    problems: list[str] = []
    for point in points:
        home = tmp_path / point.replace(":", "_")
        shutil.copytree(base, home)
        with armed(point), pytest.raises(Crashed):
            run(home, scenario, approval_id)
        decision, found = recovered(home, scenario)
        if decision.model_dump(exclude={"latency_ms", "decided_at", "approval"}) != (
            expected_decision.model_dump(exclude={"latency_ms", "decided_at", "approval"})
        ):
            problems.append(f"{point}: a different decision after recovery")
        for part, rows in expected.items():
            if found[part] != rows:
                problems.append(f"{point}: {part} differ: {found[part]} != {rows}")
    assert problems == [], "\n".join(problems)
    print(f"{name}: {len(points)} kill points: {', '.join(points)}")


def test_kill_points_cover_every_stage_of_act(tmp_path: Path, surge_net: NetworkSnapshot) -> None:
    """Between them the scenarios reach every stage of act and learn."""
    seen: set[str] = set()
    for scenario in SCENARIOS.values():
        home = tmp_path / scenario.name
        approval_id = seeded(home, scenario, surge_net)
        with armed(None) as operations:
            run(home, scenario, approval_id)
        seen |= {
            p if p.startswith("before") else p.rsplit(":", 1)[0] for p in kill_points(operations)
        }
    assert seen >= {
        "before:reserve",
        "after:reserve",
        "after:book",
        "after:release",
        "after:repromise",
        "after:notify",
        "before:learn",
    }


# ----------------------------------------------------------------- real kills (slow)


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.skipif(
    os.environ.get("EXECLAYER_RUN_SLOW") != "1",
    reason="real process kills at every point: set EXECLAYER_RUN_SLOW=1 (~5 s per point)",
)
@pytest.mark.parametrize("name", SCENARIOS)
def test_really_killed_at_every_step_of_act(
    tmp_path: Path, surge_net: NetworkSnapshot, name: str
) -> None:
    scenario = SCENARIOS[name]
    base = tmp_path / "base"
    approval_id = seeded(base, scenario, surge_net)
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(yaml.safe_dump(scenario.policy.model_dump(mode="json")))
    reference = tmp_path / "reference"
    shutil.copytree(base, reference)
    with armed(None) as operations:
        run(reference, scenario, approval_id)
    with open_resolver(reference, policy=scenario.policy) as resolver:
        expected = ledger(resolver.store)
    for point in kill_points(operations):
        home = tmp_path / point.replace(":", "_")
        shutil.copytree(base, home)
        if approval_id is not None:
            args = ["approve", str(home), approval_id, "dana@ops", point, str(policy_file)]
        else:
            args = ["resolve", str(home), scenario.event.model_dump_json(), point, str(policy_file)]
        child = subprocess.run(
            [sys.executable, "-m", "tests.reliability.crash", *args],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert child.returncode == KILLED, (point, child.stderr[-2000:])
        _, found = recovered(home, scenario)
        assert found == expected, point
