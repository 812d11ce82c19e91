"""Network reads cached by the store's change counters (SQLite, the embedded default).

Every decision reads the network twice (to perceive, and again right before acting) and
most of what it reads (SKUs, nodes, carriers, learned posteriors) changes far less often than
it is read. On SQLite, triggers bump a table's row of `change_counters` in the same
transaction as any change to that table, whoever makes it (another process, a snapshot
refresh, a manual `UPDATE`). A reader reads the counters first, in the same read transaction
as the rows, so the rows it then reads belong to exactly those counter values; committed
counters only grow, so equal counters mean equal rows and a part read under them can be
reused. A whole view is reused when every counter is unchanged and it covers the same orders.

Never used inside a unit of work (its own writes may still roll back, and a rolled-back
counter value can come back with other rows) nor on PostgreSQL (no triggers there: a counter
row bumped by every write would serialise the writers).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping
from typing import Any, TypeVar

from sqlalchemy import Connection, select

from tools.store.driver_statements import DriverStatement
from tools.store.schema import CHANGE_COUNTERS
from tools.view import NetworkView

T = TypeVar("T")
VIEWS_KEPT = 32
# What a view of orders holds besides the network: the orders and the stock of their SKUs.
ORDER_AND_STOCK_TABLES = frozenset({"orders", "order_lines", "inventory"})
# Whole views are kept only for small slices (a decision's orders): a view of thousands of
# orders (a network-wide event, the whole network) is rebuilt from its cached parts instead,
# so the cache's memory stays small whatever is asked.
MAX_ORDERS_KEPT = 200
# On the driver: read by every network read (three per decision).
_COUNTERS = DriverStatement(select(CHANGE_COUNTERS.c.name, CHANGE_COUNTERS.c.version))

Counters = Mapping[str, int]
ViewKey = tuple[tuple[tuple[str, int], ...], frozenset[str] | None]


def read_counters(conn: Connection) -> dict[str, int]:
    return {name: int(version) for name, version in _COUNTERS.execute(conn, {})}


class ViewCache:
    """Parts of the network and whole views, each kept with the counters it was read under."""

    def __init__(self, views_kept: int = VIEWS_KEPT) -> None:
        self._lock = threading.Lock()
        self._parts: dict[str, tuple[tuple[int, ...], Any]] = {}
        self._views: OrderedDict[ViewKey, NetworkView] = OrderedDict()
        self._views_kept = views_kept

    @staticmethod
    def key(counters: Counters, order_ids: Collection[str] | None) -> ViewKey:
        """A view's key: the counters of the tables it reads, and its orders. A view of no
        orders (nodes, carriers and SKUs only, as the simulated carrier reads) holds no order
        and no inventory, so changes to those tables leave its key as it was."""
        ids = None if order_ids is None else frozenset(order_ids)
        if ids is not None and not ids:
            counters = {t: v for t, v in counters.items() if t not in ORDER_AND_STOCK_TABLES}
        return tuple(sorted(counters.items())), ids

    def view(self, key: ViewKey) -> NetworkView | None:
        with self._lock:
            found = self._views.get(key)
            if found is not None:
                self._views.move_to_end(key)
            return found

    def keep(self, key: ViewKey, view: NetworkView) -> None:
        ids = key[1]
        if ids is None or len(ids) > MAX_ORDERS_KEPT:
            return
        with self._lock:
            self._views[key] = view
            self._views.move_to_end(key)
            while len(self._views) > self._views_kept:
                self._views.popitem(last=False)

    def part(
        self, name: str, tables: tuple[str, ...], counters: Counters, read: Callable[[], T]
    ) -> T:
        """The part `name` (made of `tables`) as read under the same counters, or `read()`."""
        versions = tuple(counters.get(t, -1) for t in tables)
        with self._lock:
            found = self._parts.get(name)
        if found is not None and found[0] == versions:
            value: T = found[1]
            return value
        value = read()
        with self._lock:
            self._parts[name] = (versions, value)
        return value
