"""For the decision path: change counters of the network tables, kept by triggers on SQLite
(readers cache by them), and `node_actions` (the per-node rate limit counted in SQL).

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
NODE_ACTIONS = "node_actions"
# The nodes of autonomous applied actions already in the log (each node once per action).
BACKFILL = {
    "sqlite": (
        "INSERT INTO node_actions (exception_id, key, node, recorded_at) "
        "SELECT DISTINCT a.exception_id, a.key, j.value, a.recorded_at "
        "FROM action_log a, json_each(a.nodes) j "
        "WHERE a.status = 'applied' AND a.autonomous = 1"
    ),
    "postgresql": (
        "INSERT INTO node_actions (exception_id, key, node, recorded_at) "
        "SELECT DISTINCT a.exception_id, a.key, j.value, a.recorded_at "
        "FROM action_log a, json_array_elements_text(a.nodes) AS j(value) "
        "WHERE a.status = 'applied' AND a.autonomous"
    ),
}


def upgrade() -> None:
    counters = op.create_table(
        TABLE,
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_change_counters")),
    )
    op.bulk_insert(counters, [{"name": name, "version": 0} for name in WATCHED])
    op.create_table(
        NODE_ACTIONS,
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("exception_id", sa.String(length=128), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("node", sa.String(length=128), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_node_actions")),
    )
    op.create_index(
        op.f("ix_node_actions_recorded_at"), NODE_ACTIONS, ["recorded_at"], unique=False
    )
    op.execute(BACKFILL[op.get_bind().dialect.name])
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
    op.drop_index(op.f("ix_node_actions_recorded_at"), table_name=NODE_ACTIONS)
    op.drop_table(NODE_ACTIONS)
    op.drop_table(TABLE)
