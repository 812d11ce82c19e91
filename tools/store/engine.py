"""Engines for the store: SQLite by default (a WAL file under `./.execlayer/`), PostgreSQL by URL.

SQLite is configured for several writers in several processes: WAL journal, a 30 s busy
timeout, foreign keys on, `synchronous=NORMAL`, and SQLAlchemy takes over BEGIN from the
`sqlite3` driver (the documented pysqlite recipe) so that write transactions start with
`BEGIN IMMEDIATE`: the write lock is taken up front, so a read-then-write transaction can
never fail half-way with "database is locked" when upgrading its lock. Reads use a plain
(deferred) BEGIN and, thanks to WAL, never block or wait for writers.

Use `write_connection(engine)` for a transaction that writes and `read_connection(engine)`
for reads. `sqlite://` (in memory) works too, on one shared connection: for single-threaded
tests and demos only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from pydantic_core import to_json
from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.engine import URL
from sqlalchemy.pool import StaticPool

SQLITE_BUSY_TIMEOUT_S = 30.0
WRITE_OPTION = "execlayer_write"
# The open unit of work of this thread / task, if any: (engine, its connection).
_UNIT: ContextVar[tuple[Engine, Connection] | None] = ContextVar("execlayer_unit", default=None)
# How many savepoints this thread / task has open (each level gets its own name).
_SAVEPOINT_DEPTH: ContextVar[int] = ContextVar("execlayer_savepoint_depth", default=0)
log = logging.getLogger(__name__)


def normalise_url(url: str) -> URL:
    """Parse a store URL; `postgres://` and `postgresql://` become `postgresql+psycopg://`."""
    text = url.strip()
    if not text:
        raise ValueError("database url: empty")
    if text.startswith("postgres://"):
        text = "postgresql://" + text.removeprefix("postgres://")
    try:
        parsed = make_url(text)
    except Exception as exc:  # sqlalchemy raises ArgumentError with the url in the message
        raise ValueError(f"database url: cannot parse ({type(exc).__name__})") from None
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ValueError(
            f"database url: unsupported backend {parsed.get_backend_name()!r} "
            "(use sqlite:///path or postgresql://...)"
        )
    return parsed


def is_sqlite(engine: Engine | Connection) -> bool:
    return engine.dialect.name == "sqlite"


def _sqlite_memory(url: URL) -> bool:
    database = url.database or ""
    return database in ("", ":memory:") or "mode=memory" in str(url)


def make_engine(url: str) -> Engine:
    """A sync SQLAlchemy 2.0 engine for `url`, configured as the module docstring says."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "postgresql":
        return create_engine(
            parsed,
            pool_pre_ping=True,
            pool_size=10,
            max_overflow=20,
            json_serializer=json_text,
        )
    return _sqlite_engine(parsed)


def json_text(value: Any) -> str:
    """The text of a JSON column's value: what `json.dumps` writes (infinities as `Infinity`,
    which `json.loads` reads back; keys as strings), encoded by pydantic's Rust serializer at
    about 4 times the speed (a decision with its candidates is several kB, written twice)."""
    return to_json(value, inf_nan_mode="constants").decode()


def _sqlite_engine(url: URL) -> Engine:
    connect_args: dict[str, Any] = {"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}
    kwargs: dict[str, Any] = {}
    memory = _sqlite_memory(url)
    if memory:
        # One shared connection, or every connection would see its own empty database.
        kwargs["poolclass"] = StaticPool
    else:
        Path(url.database or "").expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs["pool_size"] = 10
        kwargs["max_overflow"] = 20
    engine = create_engine(url, connect_args=connect_args, json_serializer=json_text, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 driver (see module docstring).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
            if not memory:
                cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Straight on the driver: `exec_driver_sql` costs about ten times as much, and a
        # decision opens some 14 transactions.
        begin = "BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE_OPTION) else "BEGIN"
        conn.connection.driver_connection.execute(begin)  # type: ignore[union-attr]

    return engine


def is_lock_conflict(exc: BaseException) -> bool:
    """A transaction lost a lock race and was rolled back whole (PostgreSQL deadlock or
    serialization failure; SQLite "database is locked"): running it again is safe."""
    orig = getattr(exc, "orig", None)
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if code in ("40P01", "40001"):
        return True
    return "database is locked" in str(orig or "")


def in_unit_of_work(engine: Engine) -> bool:
    """Whether this thread / task has a unit of work open on `engine` (its reads then see
    writes that may still roll back)."""
    return _unit_of(engine) is not None


def _unit_of(engine: Engine) -> Connection | None:
    current = _UNIT.get()
    return current[1] if current is not None and current[0] is engine else None


@contextmanager
def unit_of_work(engine: Engine) -> Iterator[Connection]:
    """One write transaction for every store write (and read) made on `engine` inside it, in
    this thread or task: each `write_connection` in it runs in a SAVEPOINT of the unit (an
    effect that fails still leaves nothing behind, the others stand), reads see the unit's
    own writes, and the unit commits once at the end, or not at all if it raises. Nested
    units are savepoints of the outer one."""
    current = _unit_of(engine)
    if current is not None:
        with savepoint(current):
            yield current
        return
    with write_connection(engine) as conn:
        token = _UNIT.set((engine, conn))
        try:
            yield conn
        finally:
            _UNIT.reset(token)


@contextmanager
def savepoint(conn: Connection) -> Iterator[Connection]:
    """A SAVEPOINT of `conn`'s open transaction: released when the block ends, rolled back to
    (and released) when it raises, and the error goes on.

    Sent straight on the driver's cursor: SQLAlchemy's `begin_nested` does the same with
    about 40 times the Python work (measured 64 us against 1.6 us on SQLite), and the act
    step opens one per store effect. Nothing here asks SQLAlchemy about nested transactions,
    and the outer transaction stays SQLAlchemy's."""
    depth = _SAVEPOINT_DEPTH.get()
    name = f"execlayer_sp{depth}"
    cursor = conn.connection.cursor()
    cursor.execute(f"SAVEPOINT {name}")
    token = _SAVEPOINT_DEPTH.set(depth + 1)
    try:
        yield conn
    except BaseException:
        try:
            cursor.execute(f"ROLLBACK TO SAVEPOINT {name}")
            cursor.execute(f"RELEASE SAVEPOINT {name}")
        except Exception:  # the connection is gone or the transaction aborted: the outer
            log.debug("rollback to %s failed", name, exc_info=True)  # transaction rolls back
        raise
    else:
        cursor.execute(f"RELEASE SAVEPOINT {name}")
    finally:
        _SAVEPOINT_DEPTH.reset(token)
        cursor.close()


@contextmanager
def write_connection(engine: Engine) -> Iterator[Connection]:
    """A connection inside a write transaction: committed on success, rolled back on error.

    On SQLite the transaction starts with `BEGIN IMMEDIATE` (writers queue on the busy
    timeout instead of failing); on PostgreSQL it is an ordinary READ COMMITTED transaction.
    Inside a `unit_of_work` on the same engine: a savepoint of the unit's transaction.
    """
    unit = _unit_of(engine)
    if unit is not None:
        with savepoint(unit):
            yield unit
        return
    with engine.connect() as raw:
        conn = raw.execution_options(**{WRITE_OPTION: True})
        with conn.begin():
            yield conn


@contextmanager
def read_connection(engine: Engine) -> Iterator[Connection]:
    """A connection inside a read transaction that sees one consistent state of the database.

    PostgreSQL: REPEATABLE READ (one snapshot for every statement of the transaction); SQLite:
    a deferred BEGIN, whose WAL snapshot is fixed by the first read. Inside a
    `unit_of_work` on the same engine: the unit's connection (its own writes visible).
    """
    unit = _unit_of(engine)
    if unit is not None:
        yield unit
        return
    with engine.connect() as raw:
        conn = raw if is_sqlite(raw) else raw.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            yield conn
