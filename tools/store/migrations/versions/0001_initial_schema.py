"""Initial schema: network, effects ledger, reservations, bookings, learning, exceptions,
approvals, outbox, and the append-only audit logs (with triggers rejecting UPDATE/DELETE).

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

AUDIT_TABLES = ("decision_log", "action_log", "approval_log", "outcome_log")

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "action_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("exception_id", sa.String(length=128), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("step", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("nodes", sa.JSON(), nullable=False),
        sa.Column("autonomous", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action_log")),
    )
    op.create_index(
        op.f("ix_action_log_exception_id"), "action_log", ["exception_id"], unique=False
    )
    op.create_index(op.f("ix_action_log_recorded_at"), "action_log", ["recorded_at"], unique=False)
    op.create_table(
        "approval_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("approval_id", sa.String(length=128), nullable=False),
        sa.Column("exception_id", sa.String(length=128), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval_log")),
    )
    op.create_index(
        op.f("ix_approval_log_approval_id"), "approval_log", ["approval_id"], unique=False
    )
    op.create_index(
        op.f("ix_approval_log_exception_id"), "approval_log", ["exception_id"], unique=False
    )
    op.create_table(
        "approvals",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("exception_id", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=255), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'rejected', 'superseded')",
            name=op.f("ck_approvals_status_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approvals")),
    )
    op.create_index(op.f("ix_approvals_exception_id"), "approvals", ["exception_id"], unique=False)
    op.create_index(op.f("ix_approvals_status"), "approvals", ["status"], unique=False)
    op.create_table(
        "bookings",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("booking_id", sa.String(length=128), nullable=False),
        sa.Column("carrier", sa.String(length=128), nullable=False),
        sa.Column("carrier_service", sa.String(length=128), nullable=False),
        sa.Column("order_id", sa.String(length=128), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_key", sa.String(length=255), nullable=True),
        sa.CheckConstraint(
            "state IN ('booked', 'cancelled')", name=op.f("ck_bookings_state_known")
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_bookings")),
        sa.UniqueConstraint("booking_id", name=op.f("uq_bookings_booking_id")),
    )
    op.create_index(op.f("ix_bookings_order_id"), "bookings", ["order_id"], unique=False)
    op.create_table(
        "carriers",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("pos", sa.Integer(), nullable=False),
        sa.Column("regions", sa.JSON(), nullable=False),
        sa.Column("on_time_rate", sa.Double(), nullable=False),
        sa.Column("disrupted_regions", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_carriers")),
    )
    op.create_table(
        "decision_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("exception_id", sa.String(length=128), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision_log")),
    )
    op.create_index(
        op.f("ix_decision_log_exception_id"), "decision_log", ["exception_id"], unique=False
    )
    op.create_table(
        "effects",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_effects")),
    )
    op.create_table(
        "exceptions",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("event", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decision", sa.JSON(), nullable=True),
        sa.Column("claimed_by", sa.String(length=128), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exceptions")),
    )
    op.create_index(
        "ix_exceptions_status_received", "exceptions", ["status", "received_at"], unique=False
    )
    op.create_table(
        "lane_reliability",
        sa.Column("carrier", sa.String(length=128), nullable=False),
        sa.Column("region", sa.String(length=128), nullable=False),
        sa.Column("alpha", sa.Double(), nullable=False),
        sa.Column("beta", sa.Double(), nullable=False),
        sa.Column("observations", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("carrier", "region", name=op.f("pk_lane_reliability")),
    )
    op.create_table(
        "network_meta",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_network_meta")),
    )
    op.create_table(
        "node_accuracy",
        sa.Column("node", sa.String(length=128), nullable=False),
        sa.Column("alpha", sa.Double(), nullable=False),
        sa.Column("beta", sa.Double(), nullable=False),
        sa.Column("observations", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("node", name=op.f("pk_node_accuracy")),
    )
    op.create_table(
        "nodes",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("pos", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("region", sa.String(length=128), nullable=False),
        sa.Column("lat", sa.Double(), nullable=False),
        sa.Column("lon", sa.Double(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("capacity_units_per_day", sa.Integer(), nullable=False),
        sa.Column("backlog_units", sa.Integer(), nullable=False),
        sa.Column("handling_cost_per_order", sa.Double(), nullable=False),
        sa.Column("processing_days", sa.Double(), nullable=False),
        sa.Column("cutoff_hour_utc", sa.Integer(), nullable=False),
        sa.Column("inventory_accuracy", sa.Double(), nullable=False),
        sa.CheckConstraint("backlog_units >= 0", name=op.f("ck_nodes_backlog_non_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nodes")),
    )
    op.create_index(op.f("ix_nodes_region"), "nodes", ["region"], unique=False)
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'failed')", name=op.f("ck_outbox_status_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("key", name=op.f("uq_outbox_key")),
    )
    op.create_index("ix_outbox_status_next", "outbox", ["status", "next_attempt_at"], unique=False)
    op.create_table(
        "outcome_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.String(length=128), nullable=False),
        sa.Column("exception_id", sa.String(length=128), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outcome_log")),
    )
    op.create_index(
        op.f("ix_outcome_log_exception_id"), "outcome_log", ["exception_id"], unique=False
    )
    op.create_index(op.f("ix_outcome_log_order_id"), "outcome_log", ["order_id"], unique=False)
    op.create_table(
        "reservations",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("node", sa.String(length=128), nullable=False),
        sa.Column("sku", sa.String(length=128), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('held', 'released')", name=op.f("ck_reservations_state_known")
        ),
        sa.CheckConstraint("qty > 0", name=op.f("ck_reservations_qty_positive")),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_reservations")),
    )
    op.create_index("ix_reservations_node_sku", "reservations", ["node", "sku"], unique=False)
    op.create_table(
        "skus",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("pos", sa.Integer(), nullable=False),
        sa.Column("weight_kg", sa.Double(), nullable=False),
        sa.Column("hazmat", sa.Boolean(), nullable=False),
        sa.Column("unit_cost", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_skus")),
    )
    op.create_table(
        "carrier_services",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("carrier", sa.String(length=128), nullable=False),
        sa.Column("pos", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("base_rate", sa.Double(), nullable=False),
        sa.Column("rate_per_kg", sa.Double(), nullable=False),
        sa.Column("rate_per_100km", sa.Double(), nullable=False),
        sa.Column("transit_days_base", sa.Double(), nullable=False),
        sa.Column("transit_days_per_1000km", sa.Double(), nullable=False),
        sa.Column("max_weight_kg", sa.Double(), nullable=False),
        sa.Column("max_distance_km", sa.Double(), nullable=True),
        sa.ForeignKeyConstraint(
            ["carrier"],
            ["carriers.id"],
            name=op.f("fk_carrier_services_carrier_carriers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_carrier_services")),
    )
    op.create_index(
        op.f("ix_carrier_services_carrier"), "carrier_services", ["carrier"], unique=False
    )
    op.create_table(
        "inventory",
        sa.Column("node", sa.String(length=128), nullable=False),
        sa.Column("sku", sa.String(length=128), nullable=False),
        sa.Column("pos", sa.Integer(), nullable=False),
        sa.Column("on_hand", sa.Integer(), nullable=False),
        sa.Column("reserved", sa.Integer(), nullable=False),
        sa.Column("safety_stock", sa.Integer(), nullable=False),
        sa.CheckConstraint("on_hand >= 0", name=op.f("ck_inventory_on_hand_non_negative")),
        sa.CheckConstraint(
            "reserved >= 0 AND reserved <= on_hand",
            name=op.f("ck_inventory_reserved_within_on_hand"),
        ),
        sa.CheckConstraint(
            "safety_stock >= 0", name=op.f("ck_inventory_safety_stock_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["node"], ["nodes.id"], name=op.f("fk_inventory_node_nodes"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["sku"], ["skus.id"], name=op.f("fk_inventory_sku_skus"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("node", "sku", name=op.f("pk_inventory")),
    )
    op.create_index(op.f("ix_inventory_sku"), "inventory", ["sku"], unique=False)
    op.create_table(
        "orders",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("pos", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("customer_tier", sa.String(length=16), nullable=False),
        sa.Column("ship_lat", sa.Double(), nullable=False),
        sa.Column("ship_lon", sa.Double(), nullable=False),
        sa.Column("ship_region", sa.String(length=128), nullable=False),
        sa.Column("ship_postal_code", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.String(length=40), nullable=False),
        sa.Column("promised_by", sa.String(length=40), nullable=False),
        sa.Column("alloc_node", sa.String(length=128), nullable=True),
        sa.Column("alloc_service", sa.String(length=128), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["alloc_node"], ["nodes.id"], name=op.f("fk_orders_alloc_node_nodes")
        ),
        sa.ForeignKeyConstraint(
            ["alloc_service"],
            ["carrier_services.id"],
            name=op.f("fk_orders_alloc_service_carrier_services"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
    )
    op.create_index(op.f("ix_orders_alloc_node"), "orders", ["alloc_node"], unique=False)
    op.create_index(op.f("ix_orders_alloc_service"), "orders", ["alloc_service"], unique=False)
    op.create_index(op.f("ix_orders_ship_region"), "orders", ["ship_region"], unique=False)
    op.create_index(op.f("ix_orders_status"), "orders", ["status"], unique=False)
    op.create_table(
        "order_lines",
        sa.Column("order_id", sa.String(length=128), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=128), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.Double(), nullable=False),
        sa.CheckConstraint("qty > 0", name=op.f("ck_order_lines_qty_positive")),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_lines_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["sku"], ["skus.id"], name=op.f("fk_order_lines_sku_skus")),
        sa.PrimaryKeyConstraint("order_id", "line_no", name=op.f("pk_order_lines")),
    )
    op.create_index(op.f("ix_order_lines_sku"), "order_lines", ["sku"], unique=False)
    _create_append_only_triggers()


def _create_append_only_triggers() -> None:
    """Make the database itself refuse to rewrite the audit: UPDATE and DELETE raise."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION execlayer_reject_audit_change() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '% is append-only: % rejected', TG_TABLE_NAME, TG_OP
                    USING ERRCODE = 'integrity_constraint_violation';
            END
            $$
            """
        )
        for table in AUDIT_TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION execlayer_reject_audit_change()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION execlayer_reject_audit_change()"
            )
        return
    for table in AUDIT_TABLES:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {verb} rejected'); END"
            )


def _drop_append_only_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in AUDIT_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION IF EXISTS execlayer_reject_audit_change()")
        return
    for table in AUDIT_TABLES:
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")


def downgrade() -> None:
    """Downgrade schema."""
    _drop_append_only_triggers()
    op.drop_index(op.f("ix_order_lines_sku"), table_name="order_lines")
    op.drop_table("order_lines")
    op.drop_index(op.f("ix_orders_status"), table_name="orders")
    op.drop_index(op.f("ix_orders_ship_region"), table_name="orders")
    op.drop_index(op.f("ix_orders_alloc_service"), table_name="orders")
    op.drop_index(op.f("ix_orders_alloc_node"), table_name="orders")
    op.drop_table("orders")
    op.drop_index(op.f("ix_inventory_sku"), table_name="inventory")
    op.drop_table("inventory")
    op.drop_index(op.f("ix_carrier_services_carrier"), table_name="carrier_services")
    op.drop_table("carrier_services")
    op.drop_table("skus")
    op.drop_index("ix_reservations_node_sku", table_name="reservations")
    op.drop_table("reservations")
    op.drop_index(op.f("ix_outcome_log_order_id"), table_name="outcome_log")
    op.drop_index(op.f("ix_outcome_log_exception_id"), table_name="outcome_log")
    op.drop_table("outcome_log")
    op.drop_index("ix_outbox_status_next", table_name="outbox")
    op.drop_table("outbox")
    op.drop_index(op.f("ix_nodes_region"), table_name="nodes")
    op.drop_table("nodes")
    op.drop_table("node_accuracy")
    op.drop_table("network_meta")
    op.drop_table("lane_reliability")
    op.drop_index("ix_exceptions_status_received", table_name="exceptions")
    op.drop_table("exceptions")
    op.drop_table("effects")
    op.drop_index(op.f("ix_decision_log_exception_id"), table_name="decision_log")
    op.drop_table("decision_log")
    op.drop_table("carriers")
    op.drop_index(op.f("ix_bookings_order_id"), table_name="bookings")
    op.drop_table("bookings")
    op.drop_index(op.f("ix_approvals_status"), table_name="approvals")
    op.drop_index(op.f("ix_approvals_exception_id"), table_name="approvals")
    op.drop_table("approvals")
    op.drop_index(op.f("ix_approval_log_exception_id"), table_name="approval_log")
    op.drop_index(op.f("ix_approval_log_approval_id"), table_name="approval_log")
    op.drop_table("approval_log")
    op.drop_index(op.f("ix_action_log_recorded_at"), table_name="action_log")
    op.drop_index(op.f("ix_action_log_exception_id"), table_name="action_log")
    op.drop_table("action_log")
