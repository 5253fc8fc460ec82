"""Server-side sessions, atomic login-attempt counters, and privileged role grants awaiting a second admin.

Revision ID: 0002
Revises: 0001
Create Date: 2026-01-12
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("ip", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("last_seen_at", sa.DateTime, nullable=False),
        sa.Column("revoked_at", sa.DateTime, nullable=True),
        sa.Column("revoked_reason", sa.String(40), nullable=False),
    )
    op.create_index("ix_sessions_user_ip", "sessions", ["user_id", "ip", "created_at"])
    op.create_table(
        "login_attempts",
        sa.Column("scope", sa.String(8), primary_key=True),
        sa.Column("username", sa.String(80), primary_key=True),
        sa.Column("ip", sa.String(64), primary_key=True),
        sa.Column("window_start", sa.DateTime, nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("refused", sa.Integer, nullable=False),
    )
    op.create_index("ix_login_attempts_window_start", "login_attempts", ["window_start"])
    op.create_table(
        "role_grants",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("requested_by_id", sa.Integer, sa.ForeignKey("users.id"), nullable=True),
        sa.Column("requested_at", sa.DateTime, nullable=False),
        sa.Column("decided_by_id", sa.Integer, sa.ForeignKey("users.id"), nullable=True),
        sa.Column("decided_at", sa.DateTime, nullable=True),
    )
    op.create_index("ix_role_grants_user_id", "role_grants", ["user_id"])


def downgrade() -> None:
    for table in ("role_grants", "login_attempts", "sessions"):
        op.drop_table(table)
