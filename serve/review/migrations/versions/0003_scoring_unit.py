"""Items carry everything the scorer read: HTML-only and attachment text, unread attachments, cut text, queue reason.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

#: Columns added to ``items``; the server defaults give rows loaded before this revision valid values.
_TEXT_COLUMNS = ("html_text", "attachment_text", "unscored_attachments", "queue_reason")


def upgrade() -> None:
    for name in _TEXT_COLUMNS:
        op.add_column("items", sa.Column(name, sa.Text, nullable=False, server_default=""))
    op.add_column("items", sa.Column("truncated", sa.Boolean, nullable=False, server_default=sa.false()))


def downgrade() -> None:
    # recreate="never": SQLite (3.35+) drops columns in place. Recreating the table would drop
    # `items` under foreign_keys=ON, and that cascades to every item's labels.
    with op.batch_alter_table("items", recreate="never") as batch:
        for name in ("truncated", *reversed(_TEXT_COLUMNS)):
            batch.drop_column(name)
