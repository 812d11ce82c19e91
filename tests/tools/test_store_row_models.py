"""`RowModels`: a row read again unchanged gives the same model; a changed row a new one."""

from __future__ import annotations

from functools import partial

from sqlalchemy import text

from tools.store import Store
from tools.store.engine import read_connection, write_connection
from tools.store.network_rows import RowModels, read_inventory, read_nodes, read_orders


def test_unchanged_rows_give_the_same_models_and_a_changed_row_a_fresh_one(
    northeast_store: Store,
) -> None:
    engine = northeast_store._engine
    with read_connection(engine) as conn:
        nodes, positions, orders = read_nodes(conn), read_inventory(conn), read_orders(conn)
    changed_node, changed_order = nodes[0], orders[0]
    pos = positions[0]
    with write_connection(engine) as conn:
        conn.execute(
            text("UPDATE nodes SET backlog_units = backlog_units + 7 WHERE id = :id"),
            {"id": changed_node.id},
        )
        conn.execute(
            text("UPDATE inventory SET reserved = reserved + 1 WHERE node = :n AND sku = :s"),
            {"n": pos.node, "s": pos.sku},
        )
        conn.execute(
            text("UPDATE order_lines SET qty = qty + 1 WHERE order_id = :id AND line_no = 0"),
            {"id": changed_order.id},
        )
    with read_connection(engine) as conn:
        nodes2, positions2, orders2 = read_nodes(conn), read_inventory(conn), read_orders(conn)
    assert nodes2[0].backlog_units == changed_node.backlog_units + 7
    assert all(a is b for a, b in zip(nodes[1:], nodes2[1:], strict=True))
    assert positions2[0].reserved == pos.reserved + 1
    assert all(a is b for a, b in zip(positions[1:], positions2[1:], strict=True))
    assert orders2[0].lines[0].qty == changed_order.lines[0].qty + 1  # a line change counts
    assert all(a is b for a, b in zip(orders[1:], orders2[1:], strict=True))


def test_the_memo_is_bounded() -> None:
    memo: RowModels[str] = RowModels(limit=3)
    for i in range(10):
        memo.get((i,), partial(str, i))
        assert len(memo._models) <= 3
    assert memo.get((9,), lambda: "rebuilt") == "9"  # kept since the last clear
