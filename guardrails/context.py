"""What the evaluator judges a plan against: the network state, the policy, recent activity."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from guardrails.policy_schema import Policy
from tools.view import NetworkView


@dataclass(frozen=True)
class GuardContext:
    """Everything `evaluate` reads besides the plan. Supplied by the caller; no I/O happens here.

    - `view`: the network state to check against. The act step re-evaluates against a FRESH
      view right before executing, so stock or capacity that vanished since the decision stops
      the plan.
    - `policy`: the operating policy.
    - `recent_autonomous_actions_by_node`: autonomous actions each node received in the last
      hour (the store's `recent_actions_by_node`), for the rate limit.
    - `scope_orders`: the orders the exception concerns; a plan acting on any other order is
      denied. None = only the plan's own `orders` list bounds it.
    """

    view: NetworkView
    policy: Policy
    recent_autonomous_actions_by_node: Mapping[str, int] = field(default_factory=dict)
    scope_orders: frozenset[str] | None = None

    @classmethod
    def of(
        cls,
        view: NetworkView,
        policy: Policy,
        recent_autonomous_actions_by_node: Mapping[str, int] | None = None,
        scope_orders: Collection[str] | None = None,
    ) -> GuardContext:
        return cls(
            view,
            policy,
            dict(recent_autonomous_actions_by_node or {}),
            frozenset(scope_orders) if scope_orders is not None else None,
        )
