"""The migrations describe exactly the models (every schema change has one)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from senim.database import db


def test_migrations_match_the_models(app) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"render_as_batch": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == []
