"""Business priorities: the weights of the expected-cost score.

They live in the operating policy (`guardrails`), but the score is computed by the sourcing
tools, so the shape is defined here, at the bottom of the stack. All amounts are money in the
order's currency; a person should be able to read every number and say what it means.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from tools.network import Channel, CustomerTier, Strict

Money = Annotated[float, Field(ge=0.0)]


def _by_tier(standard: float, silver: float, gold: float, b2b: float) -> dict[CustomerTier, float]:
    return {
        CustomerTier.STANDARD: standard,
        CustomerTier.SILVER: silver,
        CustomerTier.GOLD: gold,
        CustomerTier.B2B_CONTRACT: b2b,
    }


class BusinessPriorities(Strict):
    # Multiplier on the money actually spent (shipping + handling).
    cost_weight: Annotated[float, Field(ge=0.0)] = 1.0
    # What a late order costs us (credits, churn, chargebacks), by customer tier ...
    lateness_penalty: dict[CustomerTier, Money] = Field(
        default_factory=lambda: _by_tier(20.0, 30.0, 45.0, 90.0)
    )
    # ... scaled by channel (marketplaces fine late sellers; B2B contracts carry SLAs).
    channel_lateness_multiplier: dict[Channel, Annotated[float, Field(ge=0.0)]] = Field(
        default_factory=lambda: {Channel.D2C: 1.0, Channel.MARKETPLACE: 1.3, Channel.B2B: 1.2}
    )
    # Each shipment beyond the first (extra parcel, extra customer friction).
    split_penalty: Money = 6.0
    # Cost of a failed pick (re-work, a second exception) per unit at risk on the record.
    failed_pick_cost: Money = 15.0
    # Node strain: charged per unit of utilisation above the threshold, per order.
    node_strain_threshold: Annotated[float, Field(ge=0.0)] = 0.85
    node_strain_weight: Money = 20.0
    # Multiplier on margin given up (cancelled lines, unrecovered upgrades).
    margin_weight: Annotated[float, Field(ge=0.0)] = 1.0
    # Goodwill cost of cancelling an order's lines, by tier, on top of the lost margin.
    cancel_penalty: dict[CustomerTier, Money] = Field(
        default_factory=lambda: _by_tier(40.0, 60.0, 90.0, 200.0)
    )
    # Share of the tier's lateness penalty charged when a promise is moved later: the customer
    # is told, but the date they bought is broken for certain (without it a re-promise could
    # look cheaper than a shipment very likely to keep the promise).
    broken_promise_share: Annotated[float, Field(ge=0.0)] = 1.0
    # Goodwill cost per day a promise is moved later (re-promise, backorder), by tier.
    repromise_penalty_per_day: dict[CustomerTier, Money] = Field(
        default_factory=lambda: _by_tier(4.0, 6.0, 9.0, 20.0)
    )

    def lateness_cost(self, tier: CustomerTier, channel: Channel) -> float:
        return self.lateness_penalty.get(tier, 0.0) * self.channel_lateness_multiplier.get(
            channel, 1.0
        )
