"""The inventory tool: available-to-promise, how sure we are the units are there, reservations.

Available to promise (ATP) of a node/SKU position = on hand - reserved - safety stock (never
below 0). Records lie: `inventory_accuracy` (learned per node, see `tools.store.learning`) is
the probability that a unit on record is really pickable. Treating the units on record as
independent, each really there with probability `accuracy`, the number really there is
Binomial(on_hand, accuracy), so the confidence that an order can pick `qty` more units after
the `reserved` ones is the binomial upper tail

    pick_confidence(on_hand, reserved, qty, a) = P(Binomial(on_hand, a) >= reserved + qty)

computed exactly (sum of binomial terms in floating point, via a ratio recurrence from the
first term's log-probability) over the smaller side of the distribution, stopping once the
terms no longer change the sum: O(sqrt(n)) terms instead of O(n), so a DC with 10^6 units on
record costs microseconds.

Reservations (`reserve` / `release`) are atomic conditional UPDATEs in the store, idempotent
by key, and can never oversell; see `tools.store.reservations`.
"""

from __future__ import annotations

from math import exp, lgamma, log, log1p

from pydantic import BaseModel, ConfigDict

from tools.store import (
    InsufficientStock,
    KeyConflict,
    NotFound,
    Reservation,
    ReservationState,
    Store,
)
from tools.view import NetworkView

__all__ = [
    "Availability",
    "InsufficientStock",
    "Inventory",
    "KeyConflict",
    "NotFound",
    "Reservation",
    "ReservationState",
    "atp",
    "availability",
    "binomial_tail",
    "pick_confidence",
    "release",
    "reserve",
]

# Terms smaller than this fraction of the running sum no longer change a double.
_NEGLIGIBLE = 1e-18


def binomial_tail(n: int, k: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if p >= 1.0:
        return 1.0
    if p <= 0.0:
        return 0.0
    q = 1.0 - p
    if k > n * p:
        # Upper tail is the small side; terms decrease from k on.
        term = exp(_log_pmf(n, k, p))
        total = term
        odds = p / q
        for j in range(k, n):
            term *= (n - j) / (j + 1) * odds
            total += term
            if term <= total * _NEGLIGIBLE:
                break
        return min(1.0, total)
    # Lower tail P(X <= k - 1) is the small side; terms decrease going down from k - 1.
    m = k - 1
    term = exp(_log_pmf(n, m, p))
    lower = term
    inverse_odds = q / p
    for j in range(m, 0, -1):
        term *= j / (n - j + 1) * inverse_odds
        lower += term
        if term <= lower * _NEGLIGIBLE:
            break
    return max(0.0, min(1.0, 1.0 - lower))


def _log_pmf(n: int, k: int, p: float) -> float:
    return lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1) + k * log(p) + (n - k) * log1p(-p)


def pick_confidence(on_hand: int, reserved: int, qty: int, accuracy: float) -> float:
    """P(at least `reserved + qty` of the `on_hand` units on record are really there), each
    unit independently real with probability `accuracy` (see the module docstring)."""
    for name, value in (("on_hand", on_hand), ("reserved", reserved), ("qty", qty)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name}: must be a non-negative integer, got {value!r}")
    if not 0.0 <= accuracy <= 1.0:
        raise ValueError(f"accuracy: must be within [0, 1], got {accuracy!r}")
    return binomial_tail(on_hand, reserved + qty, accuracy)


class Availability(BaseModel):
    """What a node can promise of a SKU, and how sure it can be."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    node: str
    sku: str
    on_hand: int
    reserved: int
    safety_stock: int
    accuracy: float  # learned (or recorded) P(a unit on record is really there)

    @property
    def atp(self) -> int:
        """On hand - reserved - safety stock, never below 0."""
        return max(0, self.on_hand - self.reserved - self.safety_stock)

    @property
    def atp_including_safety_stock(self) -> int:
        return max(0, self.on_hand - self.reserved)

    def confidence(self, qty: int) -> float:
        """P(`qty` more units can really be picked here after the reserved ones)."""
        return pick_confidence(self.on_hand, self.reserved, qty, self.accuracy)

    def promisable(self, level: float, *, include_safety_stock: bool = False) -> int:
        """The most units (within ATP) that can be picked with confidence >= `level`."""
        if not 0.0 <= level <= 1.0:
            raise ValueError(f"level: must be within [0, 1], got {level!r}")
        ceiling = self.atp_including_safety_stock if include_safety_stock else self.atp
        low, high = 0, ceiling  # confidence falls as qty grows: binary search the last qty
        while low < high:
            mid = (low + high + 1) // 2
            if self.confidence(mid) >= level:
                low = mid
            else:
                high = mid - 1
        return low


def availability(source: NetworkView | Store, node: str, sku: str) -> Availability:
    """ATP and accuracy of one position, from a view or straight from the store. A position
    with no record is empty (0 on hand)."""
    if isinstance(source, NetworkView):
        if node not in source.nodes:
            raise NotFound("node", node)
        position = source.position(node, sku)
        accuracy = source.accuracy(node)
    else:
        found = source.get_node(node)
        if found is None:
            raise NotFound("node", node)
        position = source.get_position(node, sku)
        accuracy = source.accuracy_posteriors().get(node, found.inventory_accuracy)
    return Availability(
        node=node,
        sku=sku,
        on_hand=position.on_hand if position else 0,
        reserved=position.reserved if position else 0,
        safety_stock=position.safety_stock if position else 0,
        accuracy=accuracy,
    )


def atp(
    source: NetworkView | Store, node: str, sku: str, *, include_safety_stock: bool = False
) -> int:
    """Available to promise at `node` of `sku` (0 when there is no record)."""
    if isinstance(source, NetworkView):
        return source.atp(node, sku, include_safety_stock=include_safety_stock)
    position = source.get_position(node, sku)
    if position is None:
        return 0
    return position.atp_including_safety_stock if include_safety_stock else position.atp


def reserve(
    store: Store, key: str, node: str, sku: str, qty: int, *, allow_safety_stock: bool = False
) -> Reservation:
    """Hold `qty` units at `node` under `key`: atomic, idempotent, never oversells. The same
    key again returns the first reservation (`replayed=True`); the same key for another
    node/sku/qty is a `KeyConflict`; too few units is `InsufficientStock` (node, sku,
    requested, available), and nothing is held."""
    return store.reserve(key, node, sku, qty, allow_safety_stock=allow_safety_stock)


def release(store: Store, key: str) -> Reservation:
    """Give back the units held under `key`, once. An unknown key is `NotFound`."""
    return store.release(key)


class Inventory:
    """The inventory tool bound to a store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def availability(self, node: str, sku: str) -> Availability:
        return availability(self.store, node, sku)

    def atp(self, node: str, sku: str, *, include_safety_stock: bool = False) -> int:
        return atp(self.store, node, sku, include_safety_stock=include_safety_stock)

    def reserve(
        self, key: str, node: str, sku: str, qty: int, *, allow_safety_stock: bool = False
    ) -> Reservation:
        return reserve(self.store, key, node, sku, qty, allow_safety_stock=allow_safety_stock)

    def release(self, key: str) -> Reservation:
        return release(self.store, key)
