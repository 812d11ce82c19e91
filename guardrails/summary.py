"""A readable summary of a policy (what `execlayer policy check FILE` prints)."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table

from guardrails.policy import Policy, policy_fingerprint
from guardrails.policy_schema import ANY_REGION, Autonomy
from guardrails.wording import money, percent

AUTONOMY_MEANING = {
    Autonomy.AUTO: "executes allowed plans on its own; approve-level plans wait for a person",
    Autonomy.RECOMMEND: "never executes without a person's approval",
    Autonomy.OFF: "executes nothing: every exception goes to a person",
}


def _on(flag: bool) -> str:
    return "on" if flag else "[yellow]off[/]"


def _optional(value: str | None) -> str:
    return value if value is not None else "not checked"


def _rows(title: str, rows: list[tuple[str, str, str]]) -> Table:
    table = Table(title=title, title_justify="left", show_header=True, expand=False)
    table.add_column("key", style="cyan", no_wrap=True)
    table.add_column("value")
    table.add_column("meaning")
    for key, value, meaning in rows:
        table.add_row(key, value, meaning)
    return table


def _carrier_lines(lists: dict[str, tuple[str, ...]], empty: str) -> str:
    if not lists:
        return empty
    return "; ".join(
        f"{'every region' if region == ANY_REGION else escape(region)}: "
        f"{escape(', '.join(ids)) or 'none'}"
        for region, ids in lists.items()
    )


def policy_summary(policy: Policy) -> RenderableType:
    """Version, autonomy, thresholds, deny rules, priorities, rate limit and carrier lists."""
    a, d, p = policy.approval, policy.deny, policy.priorities
    limit = policy.rate_limit.max_autonomous_actions_per_node_per_hour
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    head.add_row("version", escape(policy.version))
    head.add_row("fingerprint", policy_fingerprint(policy))
    if policy.description:
        head.add_row("description", escape(policy.description))
    head.add_row("autonomy", f"{policy.autonomy.value}: {AUTONOMY_MEANING[policy.autonomy]}")
    approval = _rows(
        "Needs a person above",
        [
            (
                "max_cost_increase_per_order",
                money(a.max_cost_increase_per_order),
                "cost increase of one order",
            ),
            (
                "max_cost_increase_pct_of_order",
                percent(a.max_cost_increase_pct_of_order),
                "cost increase / order value",
            ),
            (
                "max_repromise_days",
                f"{a.max_repromise_days:g} days",
                "promise moved later by a re-promise or backorder",
            ),
            (
                "max_orders_per_decision",
                str(a.max_orders_per_decision),
                "blast radius: orders one decision touches",
            ),
            (
                "always",
                ", ".join(t.value for t in a.always) or "none",
                "action types that always need a person",
            ),
            (
                "max_cost_increase_per_decision",
                _optional(
                    None
                    if a.max_cost_increase_per_decision is None
                    else money(a.max_cost_increase_per_decision)
                ),
                "cost increase of a whole plan",
            ),
            (
                "min_on_time_probability",
                _optional(
                    None
                    if a.min_on_time_probability is None
                    else percent(a.min_on_time_probability, 0)
                ),
                "plans less likely on time need a person",
            ),
            (
                "tiers",
                ", ".join(t.value for t in a.tiers) or "none",
                "customer tiers whose orders always need a person",
            ),
        ],
    )
    deny = _rows(
        "Never, whoever approves",
        [
            ("hazmat_by_air", _on(d.hazmat_by_air), "hazmat SKU on an air service"),
            (
                "b2b_to_marketplace_seller",
                _on(d.b2b_to_marketplace_seller),
                "B2B order sent to a marketplace seller",
            ),
            (
                "max_node_utilization",
                percent(d.max_node_utilization, 0),
                "(backlog + new) / capacity per day",
            ),
            (
                "respect_safety_stock",
                _on(d.respect_safety_stock),
                "never take stock below safety stock",
            ),
            ("max_split_nodes", str(d.max_split_nodes), "shipping nodes for one order"),
            ("closed_nodes", _on(d.closed_nodes), "no work to a closed node"),
            (
                "node_must_serve_channel",
                _on(d.node_must_serve_channel),
                "node must serve the order's channel",
            ),
            ("(always)", "on", "never oversell: take at most on hand - reserved"),
        ],
    )
    tiers = ", ".join(f"{t.value} ${v:g}" for t, v in p.lateness_penalty.items())
    channels = ", ".join(f"{c.value} x{v:g}" for c, v in p.channel_lateness_multiplier.items())
    priorities = _rows(
        "Score weights (priorities)",
        [
            ("cost_weight", f"{p.cost_weight:g}", "multiplier on shipping + handling"),
            ("lateness_penalty", tiers, "cost of a late order, by tier"),
            ("channel_lateness_multiplier", channels, "lateness scaled by channel"),
            ("split_penalty", money(p.split_penalty), "each shipment beyond the first"),
            (
                "failed_pick_cost",
                money(p.failed_pick_cost),
                "per unit at risk on an inaccurate record",
            ),
            (
                "node_strain",
                f"{money(p.node_strain_weight)} above {percent(p.node_strain_threshold, 0)}",
                "per unit of utilisation above the threshold",
            ),
            ("margin_weight", f"{p.margin_weight:g}", "multiplier on margin given up"),
            (
                "cancel_penalty",
                ", ".join(f"{t.value} ${v:g}" for t, v in p.cancel_penalty.items()),
                "goodwill cost of cancelling, by tier",
            ),
            (
                "repromise_penalty_per_day",
                ", ".join(f"{t.value} ${v:g}" for t, v in p.repromise_penalty_per_day.items()),
                "goodwill cost per day later, by tier",
            ),
        ],
    )
    guards = _rows(
        "Rate limit and carriers",
        [
            (
                "max_autonomous_actions_per_node_per_hour",
                "no limit" if limit is None else str(limit),
                "runaway protection: beyond it a person must look",
            ),
            (
                "carriers.allow",
                _carrier_lines(policy.carriers.allow, "every carrier"),
                "by destination region",
            ),
            ("carriers.deny", _carrier_lines(policy.carriers.deny, "none"), "deny wins over allow"),
        ],
    )
    return Group(head, approval, deny, priorities, guards)
