"""Alembic environment of the store, driven from code (no alembic.ini needed).

`tools.store.migrations.migrate(engine)` hands the connection in through
`config.attributes["connection"]`, already inside the transaction (and lock) it migrates in;
offline mode (`python -m tools.store.migrations sql --db URL`) renders the DDL as text.
"""

from __future__ import annotations

from alembic import context

from tools.store.schema import metadata

config = context.config


def run_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError(
            "the store's migrations run from code: use tools.store.migrations.migrate(engine) "
            "or `python -m tools.store.migrations upgrade --db URL`"
        )
    context.configure(connection=connection, target_metadata=metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
