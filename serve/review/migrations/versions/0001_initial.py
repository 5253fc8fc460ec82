"""Initial review schema: users, items, item labels, decisions, append-only audit log.

Revision ID: 0001
Revises:
Create Date: 2025-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_PG_APPEND_ONLY = """
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
"""
_SQLITE_APPEND_ONLY = (
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(80), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("roles", sa.String(120), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "items",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("message_id", sa.String(998), nullable=False),
        sa.Column("content_hash", sa.String(128), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("date", sa.DateTime, nullable=True),
        sa.Column("sender", sa.Text, nullable=False),
        sa.Column("to", sa.Text, nullable=False),
        sa.Column("cc", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("quoted", sa.Text, nullable=False),
        sa.Column("attachments", sa.Text, nullable=False),
        sa.Column("scores", sa.Text, nullable=False),
        sa.Column("max_score", sa.Float, nullable=False),
        sa.Column("labels", sa.Text, nullable=False),
        sa.Column("evidence", sa.Text, nullable=False),
        sa.Column("model_version", sa.String(120), nullable=False),
        sa.Column("run_id", sa.String(120), nullable=False),
        sa.Column("direction", sa.String(20), nullable=False),
        sa.Column("bulk", sa.Boolean, nullable=False),
        sa.Column("context_reason", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("confirmed_labels", sa.Text, nullable=False),
        sa.Column("assigned_to_id", sa.Integer, sa.ForeignKey("users.id"), nullable=True),
        sa.Column("decided_by_id", sa.Integer, sa.ForeignKey("users.id"), nullable=True),
        sa.Column("decided_at", sa.DateTime, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("loaded_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("message_id", "content_hash", name="uq_items_message_content"),
    )
    op.create_index("ix_items_status_score", "items", ["status", "max_score"])
    op.create_index("ix_items_status_date", "items", ["status", "date"])
    op.create_index("ix_items_model_version", "items", ["model_version"])
    op.create_index("ix_items_direction", "items", ["direction"])
    op.create_table(
        "item_labels",
        sa.Column("item_id", sa.Integer, sa.ForeignKey("items.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("label", sa.String(40), primary_key=True),
        sa.Column("score", sa.Float, nullable=False),
    )
    op.create_index("ix_item_labels_label_score", "item_labels", ["label", "score"])
    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("item_id", sa.Integer, sa.ForeignKey("items.id"), nullable=False),
        sa.Column("reviewer_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("decision", sa.String(20), nullable=False),
        sa.Column("labels", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("escalated_to_id", sa.Integer, sa.ForeignKey("users.id"), nullable=True),
        sa.Column("item_version", sa.Integer, nullable=False),
        sa.Column("decided_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_decisions_item_id", "decisions", ["item_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("item_id", sa.Integer, nullable=True),
        sa.Column("ip", sa.String(64), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_login", "audit_log", ["action", "actor", "ip", "at"])

    # The audit log has no update or delete path in the app; the database refuses them too.
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(_PG_APPEND_ONLY)
    elif dialect == "sqlite":
        for stmt in _SQLITE_APPEND_ONLY:
            op.execute(stmt)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TABLE audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    else:
        op.drop_table("audit_log")
    for table in ("decisions", "item_labels", "items", "users"):
        op.drop_table(table)
