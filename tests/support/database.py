"""Database helpers shared by the test fixtures."""

from __future__ import annotations

from flask import Flask

from senim.database import db


def empty_tables(app: Flask) -> None:
    """Delete every row, children first, leaving the migrated schema."""
    with app.app_context():
        db.session.rollback()
        for table in reversed(db.metadata.sorted_tables):
            db.session.execute(table.delete())
        db.session.commit()
        db.session.remove()
