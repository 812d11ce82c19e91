"""Change counters of the network tables, kept by triggers on SQLite (readers cache by them).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "change_counters"
# The same list as tools.store.schema.WATCHED_TABLES, frozen here as of this revision.
WATCHED = (
    "network_meta",
    "skus",
    "nodes",
    "inventory",
    "carriers",
    "carrier_services",
    "orders",
    "order_lines",
    "lane_reliability",
    "node_accuracy",
)
VERBS = ("INSERT", "UPDATE", "DELETE")


def upgrade() -> None:
    counters = op.create_table(
        TABLE,
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_change_counters")),
    )
    op.bulk_insert(counters, [{"name": name, "version": 0} for name in WATCHED])
    if op.get_bind().dialect.name != "sqlite":
        return  # PostgreSQL readers never cache (see tools.store.view_cache)
    for name in WATCHED:
        for verb in VERBS:
            op.execute(
                f"CREATE TRIGGER {name}_count_{verb.lower()} AFTER {verb} ON {name} "
                f"BEGIN UPDATE {TABLE} SET version = version + 1 WHERE name = '{name}'; END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in WATCHED:
            for verb in VERBS:
                op.execute(f"DROP TRIGGER IF EXISTS {name}_count_{verb.lower()}")
    op.drop_table(TABLE)
