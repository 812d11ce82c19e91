"""Learning from outcomes: Beta posteriors of carrier reliability per lane and node accuracy.

Each posterior starts from the snapshot's prior with pseudo-count strength 20: a carrier
with `on_time_rate` r starts at Beta(20 r, 20 (1 - r)); a node with `inventory_accuracy` a at
Beta(20 a, 20 (1 - a)). Before each update the existing counts are multiplied by the
forgetting factor 0.97, so old evidence fades (its weight halves every ~23 updates) and a
lane that got worse, or recovered, shows it within a few dozen outcomes:

    delivery:  alpha = 0.97 alpha + [on time],   beta = 0.97 beta + [late]
    pick:      alpha = 0.97 alpha + picked,      beta = 0.97 beta + (expected - picked)

(a pick is `expected` Bernoulli trials, one per unit on record). Updates are idempotent by
key (the effects ledger) and atomic (one UPDATE computing the new counts from the stored
ones), so concurrent outcomes are all counted.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Engine, select, update

from tools.store import ledger
from tools.store.dialect import insert_if_absent
from tools.store.engine import write_connection
from tools.store.errors import InvalidRequest, NotFound
from tools.store.models import Posterior
from tools.store.schema import CARRIERS, LANE_RELIABILITY, NODE_ACCURACY, NODES
from tools.view import lane_key

PRIOR_STRENGTH = 20.0
FORGETTING = 0.97
# Read on every decision: built once.
_LANES = select(LANE_RELIABILITY).order_by(LANE_RELIABILITY.c.carrier, LANE_RELIABILITY.c.region)
_ACCURACY = select(NODE_ACCURACY).order_by(NODE_ACCURACY.c.node)


def reliability_posteriors(conn: Connection) -> dict[str, float]:
    """Posterior mean on-time rate per `CARRIER/REGION` lane that has observations."""
    rows = conn.execute(_LANES)
    return {lane_key(r.carrier, r.region): r.alpha / (r.alpha + r.beta) for r in rows}


def accuracy_posteriors(conn: Connection) -> dict[str, float]:
    """Posterior mean inventory accuracy per node that has observations."""
    rows = conn.execute(_ACCURACY)
    return {r.node: r.alpha / (r.alpha + r.beta) for r in rows}


def record_delivery(
    engine: Engine, carrier: str, region: str, on_time: bool, key: str, now: datetime
) -> Posterior:
    request = {"carrier": carrier, "region": region, "on_time": bool(on_time)}
    success = 1.0 if on_time else 0.0
    where = (LANE_RELIABILITY.c.carrier == carrier, LANE_RELIABILITY.c.region == region)
    with write_connection(engine) as conn:
        done = ledger.claim(conn, key, "record_delivery", request, now)
        if done is not None:
            return Posterior.model_validate({**done, "replayed": True})
        prior = conn.execute(
            select(CARRIERS.c.on_time_rate).where(CARRIERS.c.id == carrier)
        ).scalar_one_or_none()
        if prior is None:
            raise NotFound("carrier", carrier)
        insert_if_absent(
            conn,
            LANE_RELIABILITY,
            {
                "carrier": carrier,
                "region": region,
                "alpha": PRIOR_STRENGTH * prior,
                "beta": PRIOR_STRENGTH * (1.0 - prior),
                "observations": 0,
                "updated_at": now,
            },
        )
        conn.execute(
            update(LANE_RELIABILITY)
            .where(*where)
            .values(
                alpha=LANE_RELIABILITY.c.alpha * FORGETTING + success,
                beta=LANE_RELIABILITY.c.beta * FORGETTING + (1.0 - success),
                observations=LANE_RELIABILITY.c.observations + 1,
                updated_at=now,
            )
        )
        row = conn.execute(select(LANE_RELIABILITY).where(*where)).one()
        result = Posterior(
            key=lane_key(carrier, region),
            alpha=row.alpha,
            beta=row.beta,
            observations=row.observations,
            updated_at=row.updated_at,
        )
        ledger.finish(conn, key, request, result.model_dump(mode="json", exclude={"replayed"}))
        return result


def record_pick(
    engine: Engine, node: str, expected_units: int, picked_units: int, key: str, now: datetime
) -> Posterior:
    """Learn from a pick: `picked_units` of `expected_units` on record were really there.
    More picked than expected counts as all there; nothing expected teaches nothing."""
    for field, value in (("expected_units", expected_units), ("picked_units", picked_units)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidRequest(field, f"must be a non-negative integer, got {value!r}")
    found = float(min(picked_units, expected_units))
    missing = float(expected_units) - found
    request = {"node": node, "expected_units": expected_units, "picked_units": picked_units}
    with write_connection(engine) as conn:
        done = ledger.claim(conn, key, "record_pick", request, now)
        if done is not None:
            return Posterior.model_validate({**done, "replayed": True})
        prior = conn.execute(
            select(NODES.c.inventory_accuracy).where(NODES.c.id == node)
        ).scalar_one_or_none()
        if prior is None:
            raise NotFound("node", node)
        insert_if_absent(
            conn,
            NODE_ACCURACY,
            {
                "node": node,
                "alpha": PRIOR_STRENGTH * prior,
                "beta": PRIOR_STRENGTH * (1.0 - prior),
                "observations": 0,
                "updated_at": now,
            },
        )
        if expected_units > 0:
            conn.execute(
                update(NODE_ACCURACY)
                .where(NODE_ACCURACY.c.node == node)
                .values(
                    alpha=NODE_ACCURACY.c.alpha * FORGETTING + found,
                    beta=NODE_ACCURACY.c.beta * FORGETTING + missing,
                    observations=NODE_ACCURACY.c.observations + 1,
                    updated_at=now,
                )
            )
        row = conn.execute(select(NODE_ACCURACY).where(NODE_ACCURACY.c.node == node)).one()
        result = Posterior(
            key=node,
            alpha=row.alpha,
            beta=row.beta,
            observations=row.observations,
            updated_at=row.updated_at,
        )
        ledger.finish(conn, key, request, result.model_dump(mode="json", exclude={"replayed"}))
        return result
