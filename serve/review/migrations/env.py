"""Alembic environment: migrations run programmatically on a connection passed in by serve.review.db.migrate."""

from __future__ import annotations

from alembic import context

from serve.review.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only programmatic use is supported
    raise RuntimeError("run review migrations through serve.review.db.migrate(db_url)")

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
