"""The workload of `execlayer eval bench`: a realistic network and a stream of exceptions.

The network is the seeded synthetic one of the batch benchmark (`surge_network`): DCs,
stores, 3PLs and distributors in five regions, fifty SKUs, four carriers, every order
allocated to the biggest DC. The stream cycles through the exception families a day brings
(stockout, short pick, node overload, partner rejection, carrier disruption, missed cut-off,
SLA risk); each exception has a new id and touches one order of its own, so no two decisions
of a run contend for the same order and each is a real decision, not a replay.
"""

from __future__ import annotations

from datetime import timedelta

from tools.events import ExceptionEvent
from tools.network import NetworkSnapshot
from tools.sourcing.synthetic import AS_OF, OUTAGE_DC, surge_network

FAMILIES = (
    "stockout",
    "short_pick",
    "node_overload",
    "partner_rejected",
    "carrier_disruption",
    "cutoff_missed",
    "sla_risk",
)


def bench_network(orders: int, nodes: int, seed: int = 11) -> NetworkSnapshot:
    """A seeded network of `nodes` nodes holding `orders` orders (all at `OUTAGE_DC`)."""
    snapshot, _ = surge_network(orders, nodes, seed)
    return snapshot


def bench_events(
    snapshot: NetworkSnapshot, count: int, prefix: str = "EX-BENCH", start: int = 0
) -> list[ExceptionEvent]:
    """`count` exceptions, families in turn, each on its own order from index `start` on."""
    if start + count > len(snapshot.orders):
        raise ValueError(
            f"{count} exceptions from order {start} need {start + count} orders; "
            f"the network has {len(snapshot.orders)}"
        )
    events: list[ExceptionEvent] = []
    for k in range(count):
        order = snapshot.orders[start + k]
        family = FAMILIES[k % len(FAMILIES)]
        fields: dict[str, object] = {
            "id": f"{prefix}-{start + k:06d}",
            "type": family,
            "occurred_at": AS_OF + timedelta(minutes=5 + k % 240),
            "source": "carrier" if family == "carrier_disruption" else "wms",
            "orders": [order.id],
        }
        if family == "carrier_disruption":
            fields.update(carrier="PARCELCO", region=order.ship_to.region)
        else:
            fields["node"] = OUTAGE_DC
        if family == "stockout":
            fields["sku"] = order.lines[0].sku
        elif family == "short_pick":
            fields.update(sku=order.lines[0].sku, details={"short_qty": order.lines[0].qty})
        elif family == "node_overload":
            fields["details"] = {"backlog_units": 52_000}
        events.append(ExceptionEvent.model_validate(fields))
    return events
