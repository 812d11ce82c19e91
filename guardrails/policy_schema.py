"""The operating policy of contract section 4, as pydantic models.

Every section refuses unknown keys (`extra="forbid"`), so a misspelt rule is an error, never a
rule silently not enforced. Every field below is documented where it is declared; the shipped
`default_policy.yaml` repeats the documentation for operators.

The named keys of the contract keep their meanings:

- `approval.*`: above these thresholds a person must approve the plan;
- `deny.*`: never, whoever approves.

What this package adds (all optional, with safe defaults): `deny.closed_nodes`,
`deny.node_must_serve_channel`, `approval.max_cost_increase_per_decision`,
`approval.min_on_time_probability`, `approval.tiers`, `priorities` (the score weights),
`rate_limit` (runaway protection) and `carriers` (allow/deny lists by destination region).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tools.decisions import ActionType
from tools.network import CustomerTier
from tools.priorities import BusinessPriorities
from tools.sourcing.limits import SourcingLimits

# The region key of a carrier list that applies to every destination region.
ANY_REGION = "*"

CarrierIds = tuple[Annotated[str, Field(min_length=1, max_length=128)], ...]


class Autonomy(StrEnum):
    """How far the system may act on its own."""

    AUTO = "auto"  # executes allowed plans; approve-level plans wait for a person
    RECOMMEND = "recommend"  # never executes without a person's approval
    OFF = "off"  # proposes nothing executable: every exception goes to a person


class Section(BaseModel):
    """Base of every policy section: unknown keys refused, immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ApprovalRules(Section):
    """Above these thresholds a plan is executed only after a person approves it."""

    # Cost increase of one order (sum of its actions' cost_delta), in money. Above it: approve.
    max_cost_increase_per_order: Annotated[float, Field(ge=0.0)] = 25.0
    # Cost increase of one order as a FRACTION of the order's value (sum qty x unit_price):
    # 0.15 means 15 %. Above it: approve. At most 10 (1000 %) to catch "15" meant as 15 %.
    max_cost_increase_pct_of_order: Annotated[float, Field(ge=0.0, le=10.0)] = 0.15
    # A re-promise or backorder that moves the promise later by more than this many days.
    max_repromise_days: Annotated[float, Field(ge=0.0)] = 2.0
    # Blast radius: a plan touching more distinct orders than this needs a person.
    max_orders_per_decision: Annotated[int, Field(ge=1)] = 50
    # Action types that always need a person, whatever their numbers.
    always: tuple[ActionType, ...] = (ActionType.CANCEL_LINES,)
    # Added: total cost increase of one plan (all its orders); null = no plan-level limit.
    max_cost_increase_per_decision: Annotated[float, Field(ge=0.0)] | None = None
    # Added: a plan predicted less likely than this to meet the promise needs a person;
    # null = not checked.
    min_on_time_probability: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    # Added: customer tiers whose orders are never changed without a person (e.g. b2b_contract).
    tiers: tuple[CustomerTier, ...] = ()

    @field_validator("always", "tiers")
    @classmethod
    def _canonical(cls, values: tuple[Any, ...]) -> tuple[Any, ...]:
        """Sorted, without duplicates: the order of a list does not change its meaning."""
        return tuple(sorted(set(values)))


class DenyRules(Section):
    """Never, whoever approves."""

    # A hazmat SKU on a service whose mode is air.
    hazmat_by_air: bool = True
    # An order of channel b2b or tier b2b_contract sent to a node of kind marketplace_seller.
    b2b_to_marketplace_seller: bool = True
    # Utilisation cap: (backlog_units + units the plan adds) / capacity_units_per_day.
    max_node_utilization: Annotated[float, Field(gt=0.0, le=10.0)] = 1.0
    # Units taken from a node must leave on_hand - reserved >= safety_stock for every SKU.
    # (Taking more than on_hand - reserved at all is overselling: always denied.)
    respect_safety_stock: bool = True
    # At most this many distinct shipping nodes for one order.
    max_split_nodes: Annotated[int, Field(ge=1)] = 2
    # Added: never send work to (or keep work at) a node whose status is closed.
    closed_nodes: bool = True
    # Added: never ship an order from a node that does not serve the order's channel.
    node_must_serve_channel: bool = True


class RateLimit(Section):
    """Runaway protection: how many autonomous actions one node may receive per hour."""

    # When (actions at the node in the last hour + this plan's actions there) exceeds this, a
    # person must look. 0 = every action needs a person; null = no limit.
    max_autonomous_actions_per_node_per_hour: Annotated[int, Field(ge=0)] | None = 200


class CarrierLists(Section):
    """Carrier allow/deny lists by destination region (the order's ship-to region).

    Keys are region codes; the key `"*"` applies to every region. A carrier is allowed into a
    region when no allow-list names that region or `"*"`, or when it appears in the union of
    both lists. A carrier in `deny` for the region or for `"*"` is denied; deny wins over allow.
    An empty allow-list for a region allows no carrier there.
    """

    allow: dict[Annotated[str, Field(min_length=1)], CarrierIds] = Field(default_factory=dict)
    deny: dict[Annotated[str, Field(min_length=1)], CarrierIds] = Field(default_factory=dict)

    @field_validator("allow", "deny")
    @classmethod
    def _canonical(cls, lists: dict[str, CarrierIds]) -> dict[str, CarrierIds]:
        """Regions and carrier ids sorted, without duplicates (order carries no meaning)."""
        return {region: tuple(sorted(set(lists[region]))) for region in sorted(lists)}

    @model_validator(mode="after")
    def _not_both(self) -> CarrierLists:
        for region, allowed in self.allow.items():
            both = sorted(set(allowed) & set(self.deny.get(region, ())))
            if both:
                raise ValueError(
                    f"carriers {', '.join(both)} are both allowed and denied for region {region}"
                )
        return self

    def allowed(self, carrier_id: str, region: str) -> bool:
        if carrier_id in self.deny.get(region, ()) or carrier_id in self.deny.get(ANY_REGION, ()):
            return False
        lists = [self.allow[key] for key in (region, ANY_REGION) if key in self.allow]
        if not lists:
            return True
        return any(carrier_id in ids for ids in lists)

    def why_not(self, carrier_id: str, region: str) -> str | None:
        """Why `carrier_id` may not carry into `region` under these lists, or None."""
        for key in (region, ANY_REGION):
            if carrier_id in self.deny.get(key, ()):
                where = "every region" if key == ANY_REGION else f"region {region}"
                return f"{carrier_id} is on the deny list for {where}"
        if not self.allowed(carrier_id, region):
            allowed = sorted({c for key in (region, ANY_REGION) for c in self.allow.get(key, ())})
            listed = ", ".join(allowed) if allowed else "none"
            return f"{carrier_id} is not on the allow list for region {region} (allowed: {listed})"
        return None


def _complete_priorities(value: Any) -> Any:
    """Per-tier / per-channel maps given partially are completed from the defaults, so that
    `lateness_penalty: {gold: 60}` does not silently make every other tier's penalty 0."""
    if not isinstance(value, Mapping):
        return value
    defaults = BusinessPriorities().model_dump(mode="json")
    merged: dict[str, Any] = dict(value)
    for key, given in value.items():
        default = defaults.get(key) if isinstance(key, str) else None
        if isinstance(default, dict) and isinstance(given, Mapping):
            merged[key] = {**default, **given}
    return merged


class Policy(Section):
    """The whole operating policy. Only `version` is required; it is recorded on every decision."""

    # Recorded on every decision (Decision.policy_version). Write it as a string.
    version: Annotated[str, Field(min_length=1, max_length=128)]
    # Free text for people: what this policy is for, who owns it.
    description: Annotated[str, Field(max_length=2000)] = ""
    autonomy: Autonomy = Autonomy.AUTO
    approval: ApprovalRules = Field(default_factory=ApprovalRules)
    deny: DenyRules = Field(default_factory=DenyRules)
    # The weights of the expected-cost score (tools.priorities.BusinessPriorities).
    priorities: BusinessPriorities = Field(default_factory=BusinessPriorities)
    rate_limit: RateLimit = Field(default_factory=RateLimit)
    carriers: CarrierLists = Field(default_factory=CarrierLists)

    @field_validator("version", mode="before")
    @classmethod
    def _version_is_text(cls, value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError('must be text: put it in quotes, e.g. version: "2026.10"')
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    @field_validator("priorities", mode="before")
    @classmethod
    def _priorities_completed(cls, value: Any) -> Any:
        return _complete_priorities(value)

    def sourcing_limits(self) -> SourcingLimits:
        """The limits candidate generation must respect, so it never proposes what the policy
        denies (the evaluator still checks every plan independently):

        - `max_split_nodes: int`, `max_node_utilization: float`, `respect_safety_stock: bool`,
          `forbid_hazmat_by_air: bool`, `forbid_b2b_to_marketplace: bool` (from `deny`);
        - `carrier_allow: Mapping[region, frozenset[carrier]] | None` (None = no allow-list:
          every carrier allowed) and `carrier_deny: Mapping[region, frozenset[carrier]]`
          (region `"*"` = every region; see `CarrierLists`);
        - `max_repromise_days: float | None` (from `approval`: beyond it a person approves).
        """
        return SourcingLimits.from_mapping(self.sourcing_limits_mapping())

    def sourcing_limits_mapping(self) -> dict[str, Any]:
        """`sourcing_limits()` as plain keyword arguments of `SourcingLimits`."""
        return {
            "max_split_nodes": self.deny.max_split_nodes,
            "max_node_utilization": self.deny.max_node_utilization,
            "respect_safety_stock": self.deny.respect_safety_stock,
            "forbid_hazmat_by_air": self.deny.hazmat_by_air,
            "forbid_b2b_to_marketplace": self.deny.b2b_to_marketplace_seller,
            "carrier_allow": (
                {region: frozenset(ids) for region, ids in self.carriers.allow.items()}
                if self.carriers.allow
                else None
            ),
            "carrier_deny": {region: frozenset(ids) for region, ids in self.carriers.deny.items()},
            "max_repromise_days": self.approval.max_repromise_days,
        }
