"""`tools.store.driver_statements`: every statement the store runs on the driver leaves the same
rows, returns the same rows and the same rowcount as `Connection.execute` of the same statement,
on SQLite and PostgreSQL (the `store` fixture runs each test on both; PostgreSQL is skipped,
with the reason, when EXECLAYER_TEST_DATABASE_URL is unset), and it lives in the connection's
transaction: a savepoint of a unit of work rolls it back."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import JSON as JSON_TYPE
from sqlalchemy import (
    Column,
    Connection,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.postgresql import psycopg
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, OperationalError, StatementError

from tools.network import NetworkSnapshot
from tools.store import (
    Store,
    audit,
    bookings,
    decision_commit,
    effects,
    ledger,
    network_rows,
    reservations,
    view_cache,
)
from tools.store.dialect import insert_if_absent, is_postgres
from tools.store.driver_statements import DriverStatement, UnsupportedStatement
from tools.store.engine import unit_of_work, write_connection
from tools.store.schema import (
    ACTION_LOG,
    BOOKINGS,
    DECISION_LOG,
    EFFECTS,
    EXCEPTIONS,
    INVENTORY,
    NODE_ACTIONS,
    NODES,
    ORDERS,
    OUTBOX,
    RESERVATIONS,
)

EXAMPLES = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)

# Values the columns may hold: None, unicode (no NUL: PostgreSQL text refuses it), JSON with
# nested values and infinities (PostgreSQL's json type refuses `Infinity`: both paths must then
# fail alike), aware datetimes in several zones.
TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=12)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)
ZONES = st.sampled_from(
    [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]
)
TIMES = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1), timezones=ZONES
)
COUNTS = st.integers(-5, 50)


# ---------------------------------------------------------------- the comparison


def _table_state(conn: Connection, table: Table) -> list[tuple[Any, ...]]:
    """The table's rows as the database holds them (no type processing), the autoincrement id
    left out (a PostgreSQL sequence does not roll back with the savepoint)."""
    auto = table.autoincrement_column
    columns = [c for c in table.columns if c is not auto]
    names = ", ".join(f'"{c.name}"' for c in columns)
    order = ", ".join(f'"{c.name}"' for c in columns if not isinstance(c.type, JSON_TYPE))
    rows = conn.exec_driver_sql(f'SELECT {names} FROM "{table.name}" ORDER BY {order}').all()
    return [tuple(r) for r in rows]


def _outcome(
    conn: Connection, run: Callable[[Connection], Any], table: Table | None
) -> tuple[Any, Any]:
    """What `run` returns (or the class of what it raises) and the table it leaves, inside a
    savepoint that is then rolled back."""
    nested = conn.begin_nested()
    try:
        result = run(conn)
    except (DBAPIError, StatementError) as exc:
        nested.rollback()
        return ("error", type(exc).__name__), _table_state(
            conn, table
        ) if table is not None else None
    state = _table_state(conn, table) if table is not None else None
    nested.rollback()
    return ("ok", result), state


def _sqlalchemy(stmt: Any, params: Any, select_rows: bool) -> Callable[[Connection], Any]:
    def run(conn: Connection) -> Any:
        result = conn.execute(stmt.execution_options(preserve_rowcount=True), params)
        if select_rows:
            return result.rowcount, list(result.keys()), [tuple(r) for r in result]
        return result.rowcount

    return run


def _driver(stmt: DriverStatement, params: Any, select_rows: bool) -> Callable[[Connection], Any]:
    def run(conn: Connection) -> Any:
        many = isinstance(params, list)
        result = stmt.execute_many(conn, params) if many else stmt.execute(conn, params)
        if select_rows:
            fields = list(result.rows[0]._fields) if result.rows else None
            return result.rowcount, fields, [tuple(r) for r in result]
        return result.rowcount

    return run


@contextmanager
def _transaction(store: Store) -> Iterator[Connection]:
    """A transaction on the store's engine, rolled back at the end (examples stay apart)."""
    with store._engine.connect() as conn:
        trans = conn.begin()
        try:
            yield conn
        finally:
            trans.rollback()


def assert_same(store: Store, stmt: DriverStatement, params: Any, table: Table | None) -> None:
    """Same rows left in `table` (for a write) or returned (for a read), same rowcount."""
    reads = table is None
    with _transaction(store) as conn:
        expected = _outcome(conn, _sqlalchemy(stmt.statement, params, reads), table)
        got = _outcome(conn, _driver(stmt, params, reads), table)
    if reads and expected[0][0] == "ok" and got[0][0] == "ok":
        rowcount, keys, rows = expected[0][1]
        got_rowcount, fields, got_rows = got[0][1]
        assert (got_rowcount, got_rows) == (rowcount, rows)
        assert fields is None or fields == keys
    else:
        assert got == expected


# ---------------------------------------------------------------- fixtures and values


@pytest.fixture
def seeded(northeast_store: Store, northeast: NetworkSnapshot) -> Store:
    """The example network plus one row of each table the hot statements read or update."""
    with write_connection(northeast_store._engine) as conn:
        conn.execute(
            insert(EFFECTS),
            {
                "key": "K-seed",
                "kind": "hold_stock",
                "payload": {"request": {"q": 1}},
                "created_at": T0,
            },
        )
        position = northeast.inventory[0]
        conn.execute(
            insert(RESERVATIONS),
            {
                "key": "R-seed",
                "node": position.node,
                "sku": position.sku,
                "qty": 1,
                "state": "held",
                "created_at": T0,
                "released_at": None,
            },
        )
        conn.execute(
            insert(BOOKINGS),
            {
                "key": "B-seed",
                "booking_id": "BK-1",
                "carrier": "C",
                "carrier_service": "S",
                "order_id": northeast.orders[0].id,
                "state": "booked",
                "payload": {"label": "ü"},
                "created_at": T0,
                "cancelled_at": None,
                "cancel_key": None,
            },
        )
        conn.execute(
            insert(EXCEPTIONS),
            {
                "id": "EX-seed",
                "event": {"type": "x"},
                "status": "open",
                "received_at": T0,
                "updated_at": T0,
                "decision": None,
                "claimed_by": None,
                "claimed_at": None,
                "attempts": 0,
            },
        )
        conn.execute(
            insert(NODE_ACTIONS),
            [
                {
                    "exception_id": "EX-seed",
                    "key": f"A{i}",
                    "node": n.id,
                    "recorded_at": T0 + timedelta(hours=i),
                }
                for i, n in enumerate(northeast.nodes)
            ],
        )
    return northeast_store


def _ids(snapshot: NetworkSnapshot) -> dict[str, st.SearchStrategy[str]]:
    return {
        "node": st.sampled_from([n.id for n in snapshot.nodes]) | TEXT,
        "sku": st.sampled_from([s.id for s in snapshot.skus]) | TEXT,
        "order": st.sampled_from([o.id for o in snapshot.orders]) | TEXT,
        "service": st.sampled_from([s.id for c in snapshot.carriers for s in c.services]) | TEXT,
    }


# ---------------------------------------------------------------- insert-if-absent (the claims)


def _if_absent_pair(table: Table, postgres: bool) -> Any:
    return (pg_insert if postgres else sqlite_insert)(table).on_conflict_do_nothing()


@EXAMPLES
@given(data=st.data())
def test_insert_if_absent_matches_sqlalchemy(seeded: Store, data: st.DataObject) -> None:
    rows: dict[str, tuple[Table, st.SearchStrategy[dict[str, Any]]]] = {
        "effects": (
            EFFECTS,
            st.fixed_dictionaries(
                {
                    "key": st.sampled_from(["K-seed"]) | TEXT,
                    "kind": TEXT,
                    "payload": JSON,
                    "created_at": TIMES,
                }
            ),
        ),
        "reservations": (
            RESERVATIONS,
            st.fixed_dictionaries(
                {
                    "key": st.sampled_from(["R-seed"]) | TEXT,
                    "node": TEXT,
                    "sku": TEXT,
                    "qty": COUNTS,
                    "state": TEXT,
                    "created_at": TIMES,
                    "released_at": st.none() | TIMES,
                }
            ),
        ),
        "outbox": (
            OUTBOX,
            st.fixed_dictionaries(
                {
                    "key": TEXT,
                    "kind": TEXT,
                    "payload": JSON,
                    "status": TEXT,
                    "attempts": COUNTS,
                    "next_attempt_at": TIMES,
                    "last_error": st.none() | TEXT,
                    "created_at": TIMES,
                    "sent_at": st.none() | TIMES,
                }
            ),
        ),
        "exceptions": (
            EXCEPTIONS,
            st.fixed_dictionaries(
                {
                    "id": st.sampled_from(["EX-seed"]) | TEXT,
                    "event": JSON,
                    "status": TEXT,
                    "received_at": TIMES,
                    "updated_at": TIMES,
                    "decision": st.none() | JSON,
                    "claimed_by": st.none() | TEXT,
                    "claimed_at": st.none() | TIMES,
                    "attempts": COUNTS,
                }
            ),
        ),
    }
    table, values_of = rows[data.draw(st.sampled_from(sorted(rows)))]
    values = data.draw(values_of)
    with _transaction(seeded) as conn:
        postgres = is_postgres(conn)
        expected = _outcome(
            conn, _sqlalchemy(_if_absent_pair(table, postgres), values, False), table
        )
        got = _outcome(conn, lambda c: 1 if insert_if_absent(c, table, values) else 0, table)
    assert got == expected


# ---------------------------------------------------------------- the other converted statements


@EXAMPLES
@given(data=st.data())
def test_writes_match_sqlalchemy(
    seeded: Store, northeast: NetworkSnapshot, data: st.DataObject
) -> None:
    ids = _ids(northeast)
    cases: dict[str, tuple[DriverStatement, Table, st.SearchStrategy[Any]]] = {
        "ledger finish": (
            ledger._FINISH,
            EFFECTS,
            st.fixed_dictionaries({"k": st.sampled_from(["K-seed"]) | TEXT, "payload": JSON}),
        ),
        "set allocation": (
            effects._SET_ALLOCATION,
            ORDERS,
            st.fixed_dictionaries(
                {
                    "k": ids["order"],
                    "n": st.none() | ids["node"],
                    "s": st.none() | ids["service"],
                    "st": TEXT,
                }
            ),
        ),
        "set promise": (
            effects._SET_PROMISE,
            ORDERS,
            st.fixed_dictionaries({"k": ids["order"], "p": TEXT}),
        ),
        "set status": (
            effects._SET_STATUS,
            ORDERS,
            st.fixed_dictionaries({"k": ids["order"], "st": TEXT}),
        ),
        "set backlog": (
            effects._SET_BACKLOG,
            NODES,
            st.fixed_dictionaries({"k": ids["node"], "v": COUNTS}),
        ),
        "unreserve": (
            effects._UNRESERVE,
            INVENTORY,
            st.fixed_dictionaries({"n": ids["node"], "s": ids["sku"], "q": COUNTS}),
        ),
        "hold": (
            effects._HOLD,
            INVENTORY,
            st.fixed_dictionaries({"n": ids["node"], "s": ids["sku"], "q": COUNTS}),
        ),
        "take": (
            reservations._TAKE[False],
            INVENTORY,
            st.fixed_dictionaries({"n": ids["node"], "s": ids["sku"], "q": COUNTS}),
        ),
        "take with safety stock": (
            reservations._TAKE[True],
            INVENTORY,
            st.fixed_dictionaries({"n": ids["node"], "s": ids["sku"], "q": COUNTS}),
        ),
        "set decision": (
            decision_commit._SET_DECISION,
            EXCEPTIONS,
            st.fixed_dictionaries(
                {"k": st.sampled_from(["EX-seed"]) | TEXT, "d": JSON, "st": TEXT, "at": TIMES}
            ),
        ),
        "decision log": (
            decision_commit._LOG,
            DECISION_LOG,
            st.fixed_dictionaries({"k": TEXT, "at": TIMES, "p": JSON}),
        ),
        "action log": (
            audit._INSERT_ACTIONS,
            ACTION_LOG,
            st.lists(
                st.fixed_dictionaries(
                    {
                        "exception_id": TEXT,
                        "recorded_at": TIMES,
                        "step": TEXT,
                        "key": TEXT,
                        "status": TEXT,
                        "nodes": st.lists(TEXT, max_size=3),
                        "autonomous": st.booleans(),
                        "detail": JSON,
                    }
                ),
                min_size=1,
                max_size=3,
            ),
        ),
        "node actions": (
            audit._INSERT_NODE_ACTIONS,
            NODE_ACTIONS,
            st.lists(
                st.fixed_dictionaries(
                    {"exception_id": TEXT, "key": TEXT, "node": TEXT, "recorded_at": TIMES}
                ),
                min_size=1,
                max_size=3,
            ),
        ),
    }
    stmt, table, params_of = cases[data.draw(st.sampled_from(sorted(cases)))]
    assert_same(seeded, stmt, data.draw(params_of), table)


@EXAMPLES
@given(data=st.data())
def test_reads_match_sqlalchemy(
    seeded: Store, northeast: NetworkSnapshot, data: st.DataObject
) -> None:
    ids = _ids(northeast)
    cases: dict[str, tuple[DriverStatement, st.SearchStrategy[dict[str, Any]]]] = {
        "ledger read": (
            ledger._READ,
            st.fixed_dictionaries({"k": st.sampled_from(["K-seed"]) | TEXT}),
        ),
        "order for update": (effects._ORDER_FOR_UPDATE, st.fixed_dictionaries({"k": ids["order"]})),
        "backlog for update": (
            effects._BACKLOG_FOR_UPDATE,
            st.fixed_dictionaries({"k": ids["node"]}),
        ),
        "position for update": (
            effects._POSITION_FOR_UPDATE,
            st.fixed_dictionaries({"n": ids["node"], "s": ids["sku"]}),
        ),
        "node exists": (effects._ID_OF["nodes"], st.fixed_dictionaries({"k": ids["node"]})),
        "service exists": (
            effects._ID_OF["carrier_services"],
            st.fixed_dictionaries({"k": ids["service"]}),
        ),
        "reservation": (
            reservations._BY_KEY,
            st.fixed_dictionaries({"k": st.sampled_from(["R-seed"]) | TEXT}),
        ),
        "booking": (
            bookings._BY_KEY,
            st.fixed_dictionaries({"k": st.sampled_from(["B-seed"]) | TEXT}),
        ),
        "recent by node": (audit._RECENT_BY_NODE, st.fixed_dictionaries({"since": TIMES})),
        "change counters": (view_cache._COUNTERS, st.just({})),
    }
    stmt, params_of = cases[data.draw(st.sampled_from(sorted(cases)))]
    assert_same(seeded, stmt, data.draw(params_of), None)


@EXAMPLES
@given(payload=JSON, at=TIMES)
def test_values_fixed_in_the_statement_are_processed_too(
    seeded: Store, payload: Any, at: datetime
) -> None:
    """A value written into the statement itself (not a parameter) goes through its column's
    bind processor as well (JSON text, UTC time)."""
    fixed = DriverStatement(
        update(EFFECTS)
        .where(EFFECTS.c.key == bindparam("k"))
        .values(payload=payload, created_at=at)
    )
    assert_same(seeded, fixed, {"k": "K-seed"}, EFFECTS)


@EXAMPLES
@given(data=st.data())
def test_in_lists_match_sqlalchemy(
    seeded: Store, northeast: NetworkSnapshot, data: st.DataObject
) -> None:
    """The network reads' IN-lists on the driver (up to DRIVER_IN_MAX values) return the rows
    SQLAlchemy's expanding IN returns, whatever the length."""
    ids = _ids(northeast)
    name, in_list, values_of = data.draw(
        st.sampled_from(
            [
                ("orders", network_rows._ORDERS_IN, ids["order"]),
                ("order lines", network_rows._LINES_IN, ids["order"]),
                ("inventory", network_rows._INVENTORY_IN, ids["sku"]),
            ]
        )
    )
    values = data.draw(
        st.lists(values_of, min_size=1, max_size=network_rows.DRIVER_IN_MAX + 1, unique=True)
    )
    with _transaction(seeded) as conn:
        expected = conn.execute(in_list._expanding, {"v": values}).all()
        got = in_list.rows(conn, values)
    assert sorted(tuple(r._asdict().items()) for r in got) == sorted(
        tuple(r._asdict().items()) for r in expected
    ), name


def test_result_processors_give_back_python_values(seeded: Store) -> None:
    """JSON comes back parsed and times aware UTC, as through SQLAlchemy."""
    with _transaction(seeded) as conn:
        booking = bookings._BY_KEY.execute(conn, {"k": "B-seed"}).one()
        effect = ledger._READ.execute(conn, {"k": "K-seed"}).one()
    assert booking.payload == {"label": "ü"} and booking.created_at == T0
    assert booking.created_at.tzinfo is not None
    assert (effect.kind, effect.payload) == ("hold_stock", {"request": {"q": 1}})


# ---------------------------------------------------------------- transactions


def _counted(store: Store, key: str) -> int:
    with _transaction(store) as conn:
        return len(ledger._READ.execute(conn, {"k": key}).rows)


def test_a_driver_statement_rolls_back_with_its_savepoint(seeded: Store) -> None:
    engine = seeded._engine
    with unit_of_work(engine):
        with write_connection(engine) as conn:  # a savepoint of the unit: kept
            assert insert_if_absent(
                conn, EFFECTS, {"key": "KEEP", "kind": "k", "payload": {}, "created_at": T0}
            )
        with pytest.raises(RuntimeError, match="undo"), write_connection(engine) as conn:
            assert insert_if_absent(
                conn, EFFECTS, {"key": "UNDO", "kind": "k", "payload": {}, "created_at": T0}
            )
            ledger._FINISH.execute(conn, {"k": "KEEP", "payload": {"changed": True}})
            raise RuntimeError("undo")
    assert _counted(seeded, "KEEP") == 1 and _counted(seeded, "UNDO") == 0
    with _transaction(seeded) as conn:
        assert ledger._READ.execute(conn, {"k": "KEEP"}).one().payload == {}


def test_a_unit_that_raises_takes_its_driver_statements_with_it(seeded: Store) -> None:
    engine = seeded._engine
    with pytest.raises(RuntimeError, match="stop"), unit_of_work(engine):
        with write_connection(engine) as conn:
            insert_if_absent(
                conn, EFFECTS, {"key": "GONE", "kind": "k", "payload": {}, "created_at": T0}
            )
        raise RuntimeError("stop")
    assert _counted(seeded, "GONE") == 0


def test_a_refused_statement_leaves_the_unit_usable(seeded: Store) -> None:
    """A NOT NULL violation on the driver is SQLAlchemy's IntegrityError, and (PostgreSQL)
    rolling back to the savepoint leaves the unit's transaction usable."""
    engine = seeded._engine
    with unit_of_work(engine):
        with pytest.raises(DBAPIError), write_connection(engine) as conn:
            decision_commit._LOG.execute(conn, {"k": None, "at": T0, "p": {}})
        with write_connection(engine) as conn:
            insert_if_absent(
                conn, EFFECTS, {"key": "AFTER", "kind": "k", "payload": {}, "created_at": T0}
            )
    assert _counted(seeded, "AFTER") == 1


# ---------------------------------------------------------------- as SQLAlchemy does it


def test_events_see_driver_statements_and_their_errors_are_wrapped(seeded: Store) -> None:
    """`before_cursor_execute` listeners (statement counters, injected faults) see the
    statement; what they raise comes out as SQLAlchemy would wrap it."""
    engine = seeded._engine
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement.split(maxsplit=1)[0])

    event.listen(engine, "before_cursor_execute", count)
    try:
        with _transaction(seeded) as conn:
            ledger._READ.execute(conn, {"k": "K-seed"})
            audit._INSERT_NODE_ACTIONS.execute_many(
                conn, [{"exception_id": "E", "key": "k", "node": "n", "recorded_at": T0}]
            )
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert seen[-2:] == ["SELECT", "INSERT"]

    def fail(*_: Any) -> None:
        raise engine.dialect.loaded_dbapi.OperationalError("disk I/O error (injected)")

    event.listen(engine, "before_cursor_execute", fail)
    try:
        with pytest.raises(OperationalError, match="injected"), _transaction(seeded) as conn:
            ledger._READ.execute(conn, {"k": "K-seed"})
    finally:
        event.remove(engine, "before_cursor_execute", fail)


def test_driver_statements_are_logged_like_sqlalchemys(
    seeded: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine.Engine")
    with _transaction(seeded) as conn:
        ledger._READ.execute(conn, {"k": "K-seed"})
    logged = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("SELECT effects.kind, effects.payload") for m in logged)
    assert any("K-seed" in m for m in logged)


def test_a_value_a_bind_processor_refuses_is_a_statement_error(seeded: Store) -> None:
    naive = datetime(2026, 1, 1)
    with _transaction(seeded) as conn, pytest.raises(StatementError, match="naive"):
        decision_commit._LOG.execute(conn, {"k": "E", "at": naive, "p": {}})
    with _transaction(seeded) as conn, pytest.raises(StatementError):
        decision_commit._LOG.execute(conn, {"k": "E", "at": T0})  # "p" missing
    with _transaction(seeded) as conn, pytest.raises(StatementError, match="takes"):
        # through SQLAlchemy an extra column key would be SET too: refused, not dropped
        ledger._FINISH.execute(conn, {"k": "K-seed", "payload": {}, "kind": "other"})


# ---------------------------------------------------------------- refused when built


@pytest.mark.parametrize("dialect", [sqlite.dialect(), psycopg.dialect()])
def test_statements_needing_execution_time_work_are_refused(dialect: Any) -> None:
    table = Table(
        "t",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("a", String),
        Column("b", String, default=lambda: "x"),
    )
    with pytest.raises(UnsupportedStatement, match="Python-side column defaults"):
        DriverStatement(insert(table), ("a",)).compiled(dialect)
    with pytest.raises(UnsupportedStatement, match="expanding"):
        DriverStatement(select(table).where(table.c.a.in_(["x", "y"]))).compiled(dialect)
    DriverStatement(insert(table), ("a", "b")).compiled(dialect)  # every column given: fine


def test_execute_and_execute_many_are_not_mixed(seeded: Store) -> None:
    with _transaction(seeded) as conn:
        with pytest.raises(UnsupportedStatement, match="many"):
            audit._INSERT_NODE_ACTIONS.execute(
                conn, {"exception_id": "E", "key": "k", "node": "n", "recorded_at": T0}
            )
        with pytest.raises(UnsupportedStatement, match="many"):
            ledger._READ.execute_many(conn, [{"k": "K-seed"}])
