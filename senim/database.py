"""SQLAlchemy (Flask-SQLAlchemy) and Alembic (Flask-Migrate) wiring."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, event
from sqlalchemy.engine import CursorResult, Engine
from sqlalchemy.sql.expression import Executable

# Stable constraint names so Alembic migrations are the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Objects stay readable after commit: a request reads what it just wrote
# without reloading it from the database.
db = SQLAlchemy(
    metadata=MetaData(naming_convention=NAMING_CONVENTION), session_options={"expire_on_commit": False}
)
migrate = Migrate()

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def init_database(app: Flask, database_url: str) -> None:
    app.config["SQLALCHEMY_DATABASE_URI"] = database_url
    engine_options: dict[str, object] = {"pool_pre_ping": True}
    if database_url.startswith("sqlite"):
        # Several gunicorn workers share the file: wait for the write lock
        # instead of failing with "database is locked".
        engine_options["connect_args"] = {"timeout": 30}
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options
    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: object, connection_record: object) -> None:
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def core(statement: Executable, parameters: dict | list[dict] | None = None) -> CursorResult:
    """Run a Core statement on the request's transaction, past the ORM layer.

    Same connection and transaction as ``db.session``; for hot paths where
    the ORM's per-statement bookkeeping is most of the cost.
    """
    return db.session.connection().execute(statement, parameters)
