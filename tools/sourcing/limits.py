"""Hard limits on what sourcing may propose, filled from the operating policy's `deny` rules.

Candidate generation and batch re-sourcing never propose what these forbid; the guardrails
still evaluate every candidate again, independently. Carrier lists are keyed by region; the
key `"*"` applies to every region. A carrier is usable on a lane when it is allowed (or no
allow-list covers the region) and not denied, at both the origin node's region and the
destination region.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType

from tools.network import Channel, Node, NodeKind, TransportMode

ANY_REGION = "*"


def _frozen(value: Mapping[str, frozenset[str]] | None) -> Mapping[str, frozenset[str]] | None:
    if value is None:
        return None
    return MappingProxyType({str(k): frozenset(v) for k, v in value.items()})


@dataclass(frozen=True)
class SourcingLimits:
    max_split_nodes: int = 2
    max_node_utilization: float = 1.0
    respect_safety_stock: bool = True
    forbid_hazmat_by_air: bool = True
    forbid_b2b_to_marketplace: bool = True
    carrier_allow: Mapping[str, frozenset[str]] | None = None
    carrier_deny: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # Re-promise candidates move the promise at most this many days (None: no cap). Backorders
    # are the last resort and are not capped here (the guardrails send them to a person).
    max_repromise_days: float | None = None
    # Answers of `carrier_allowed` by (carrier, regions): the limits are frozen, and candidate
    # generation asks the same few questions thousands of times per decision.
    _carrier_answers: dict[tuple[str, tuple[str, ...]], bool] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if self.max_split_nodes < 1:
            raise ValueError(f"max_split_nodes must be >= 1, got {self.max_split_nodes}")
        if not self.max_node_utilization >= 0:
            raise ValueError(f"max_node_utilization must be >= 0, got {self.max_node_utilization}")
        if self.max_repromise_days is not None and not self.max_repromise_days >= 0:
            raise ValueError(f"max_repromise_days must be >= 0, got {self.max_repromise_days}")
        object.__setattr__(self, "carrier_allow", _frozen(self.carrier_allow))
        object.__setattr__(self, "carrier_deny", _frozen(self.carrier_deny) or {})

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> SourcingLimits:
        """From the plain dict a policy produces (unknown keys are an error naming them)."""
        known = {f.name for f in fields(cls) if f.init}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown sourcing limit(s): {', '.join(unknown)}")
        values: dict[str, object] = dict(data)
        for key in ("carrier_allow", "carrier_deny"):
            raw = values.get(key)
            if isinstance(raw, Mapping):
                values[key] = {str(r): frozenset(str(c) for c in cs) for r, cs in raw.items()}
        return cls(**values)  # type: ignore[arg-type]

    def carrier_allowed(self, carrier_id: str, *regions: str) -> bool:
        """May `carrier_id` carry a shipment touching all of `regions`?"""
        answers = self._carrier_answers
        key = (carrier_id, regions)
        answer = answers.get(key)
        if answer is None:
            answer = answers[key] = self._carrier_allowed(carrier_id, regions)
        return answer

    def _carrier_allowed(self, carrier_id: str, regions: tuple[str, ...]) -> bool:
        for region in regions:
            for key in (region, ANY_REGION):
                if carrier_id in self.carrier_deny.get(key, frozenset()):
                    return False
            if self.carrier_allow is not None:
                lists = [
                    self.carrier_allow[k] for k in (region, ANY_REGION) if k in self.carrier_allow
                ]
                if lists and not any(carrier_id in allowed for allowed in lists):
                    return False
        return True

    def node_may_serve(self, node: Node, channel: Channel) -> bool:
        """B2B orders never go to marketplace sellers (when forbidden)."""
        return not (
            self.forbid_b2b_to_marketplace
            and channel is Channel.B2B
            and node.kind is NodeKind.MARKETPLACE_SELLER
        )

    def mode_allowed(self, mode: TransportMode, hazmat: bool) -> bool:
        return not (self.forbid_hazmat_by_air and hazmat and mode is TransportMode.AIR)

    def capacity_left(self, node: Node) -> int:
        """Units the node may still take under `max_node_utilization` (never negative)."""
        room = self.max_node_utilization * node.capacity_units_per_day - node.backlog_units
        return max(0, int(room + 1e-9))
