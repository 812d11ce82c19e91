"""Alembic migrations of the store, usable programmatically.

`migrate(engine)` upgrades the database to head. It is safe to call from several processes at
once: on PostgreSQL the upgrade runs in one transaction holding an advisory lock (transactional
DDL: a second process waits, then finds the database at head); on SQLite it runs in one
`BEGIN IMMEDIATE` transaction (SQLite DDL is transactional too), retried if the busy timeout
runs out. When the database is already at head nothing is locked at all.

Operators can run the same thing from a shell, with no alembic.ini:

    python -m tools.store.migrations upgrade --db postgresql://user@host/db
    python -m tools.store.migrations current --db sqlite:///.execlayer/execlayer.db
    python -m tools.store.migrations sql --db postgresql://...   # print the DDL, run nothing
"""

from __future__ import annotations

import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError

from tools.store.engine import is_sqlite, write_connection

SCRIPT_LOCATION = Path(__file__).resolve().parent
# pg_advisory_xact_lock key for migrations: "exmi" in ASCII.
PG_MIGRATION_LOCK = 0x65786D69
SQLITE_LOCK_RETRIES = 3


def alembic_config(connection: Connection | None = None, url: str | None = None) -> Config:
    """An Alembic `Config` built in code, pointing at this package's scripts."""
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPT_LOCATION))
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError("the store's migration scripts have no head revision")
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _upgrade(engine: Engine) -> None:
    with write_connection(engine) as conn:
        if not is_sqlite(conn):
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_MIGRATION_LOCK})
        command.upgrade(alembic_config(conn), "head")


def migrate(engine: Engine) -> None:
    """Upgrade the database behind `engine` to the head revision (see module docstring)."""
    if current_revision(engine) == head_revision():
        return
    for attempt in range(SQLITE_LOCK_RETRIES):
        try:
            _upgrade(engine)
            return
        except OperationalError as exc:
            locked = "locked" in str(exc.orig).lower() or "busy" in str(exc.orig).lower()
            if not (is_sqlite(engine) and locked) or attempt == SQLITE_LOCK_RETRIES - 1:
                raise
            time.sleep(0.5 * (attempt + 1))
