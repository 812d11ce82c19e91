"""The `expected` block of a replay case (contract section 5) and the check of a decision.

Every check reports what it found, so a failing case says exactly which rule it broke.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from tools.decisions import Decision, DecisionStatus
from tools.view import NetworkView

RESOLVED = frozenset({DecisionStatus.AUTO_RESOLVED, DecisionStatus.RESOLVED})


class Expected(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status_in: list[DecisionStatus] | None = None
    forbidden_nodes: list[str] = Field(default_factory=list)
    allowed_nodes: list[str] | None = None
    forbidden_action_types: list[str] = Field(default_factory=list)
    max_cost_delta: float | None = None
    forbidden_carriers: list[str] = Field(default_factory=list)
    forbidden_carrier_services: list[str] = Field(default_factory=list)
    only_orders: list[str] | None = None
    must_cover_orders: list[str] = Field(default_factory=list)


def carrier_of(service: str, view: NetworkView | None) -> str:
    if view is not None and service in view.services:
        return view.services[service][0].id
    return service.split("-", 1)[0]


def check_expected(
    decision: Decision, expected: Expected, view: NetworkView | None = None
) -> list[str]:
    """The broken expectations (empty when the decision satisfies the block)."""
    failures: list[str] = []
    if expected.status_in is not None and decision.status not in expected.status_in:
        failures.append(
            f"status {decision.status.value} not in {[s.value for s in expected.status_in]}"
        )
    actions = decision.actions
    for action in actions:
        nodes = action.nodes()
        for node in nodes:
            if node in expected.forbidden_nodes:
                failures.append(f"{action.type.value} sends work to forbidden node {node}")
            if expected.allowed_nodes is not None and node not in expected.allowed_nodes:
                failures.append(
                    f"{action.type.value} uses node {node} outside {expected.allowed_nodes}"
                )
        if action.type.value in expected.forbidden_action_types:
            failures.append(f"forbidden action type {action.type.value}")
        for service in action.carrier_services():
            if service in expected.forbidden_carrier_services:
                failures.append(f"forbidden carrier service {service}")
            if carrier_of(service, view) in expected.forbidden_carriers:
                failures.append(f"forbidden carrier {carrier_of(service, view)} ({service})")
        if expected.only_orders is not None:
            stray = [o for o in action.touched_orders() if o not in expected.only_orders]
            if stray:
                failures.append(f"{action.type.value} touches orders outside scope: {stray}")
    if expected.max_cost_delta is not None and decision.status in RESOLVED:
        total = sum(a.cost_delta for a in actions)
        if total > expected.max_cost_delta + 1e-9:
            failures.append(f"cost delta {total:.2f} exceeds {expected.max_cost_delta:.2f}")
    if decision.status in RESOLVED:
        covered = {o for a in actions for o in a.touched_orders()}
        missing = [o for o in expected.must_cover_orders if o not in covered]
        if missing:
            failures.append(f"orders without an action: {missing}")
    return failures
