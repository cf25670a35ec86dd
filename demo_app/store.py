"""What the demo app holds, in its own SQLite file (stdlib ``sqlite3``), keyed by browser.

A browser is known by a random id in its signed session cookie; nothing else
about the customer is kept in the cookie. Under each consent the app holds:

- ``pending``: a started connection (state, PKCE verifier, nonce, DPoP key)
  until the browser comes back to ``/callback``;
- ``connections``: the consent's tokens and DPoP key (server-side only: never
  sent to the browser, never logged);
- ``bank_data``: what each bank answered (accounts, balances, transactions);
- ``notices``: what the dashboard must tell the browser (e.g. "your consent
  was revoked in Senim; we deleted your data");
- ``received_events``: the ``jti`` of every Security Event Token received,
  to treat a repeated delivery once (RFC 8935 §2: the transmitter retries).

``forget_consent`` deletes everything held under a consent in one
transaction: the pilot's rule when a consent ends.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS pending (
    state TEXT PRIMARY KEY,
    browser TEXT NOT NULL,
    consent_id TEXT NOT NULL,
    verifier TEXT NOT NULL,
    nonce TEXT NOT NULL,
    dpop_key TEXT NOT NULL,
    banks TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS connections (
    consent_id TEXT PRIMARY KEY,
    browser TEXT NOT NULL,
    banks TEXT NOT NULL,
    dpop_key TEXT NOT NULL,
    access_token TEXT NOT NULL,
    refresh_token TEXT,
    connected_at INTEGER NOT NULL,
    fetched_at INTEGER
);
CREATE INDEX IF NOT EXISTS connections_by_browser ON connections (browser);
CREATE TABLE IF NOT EXISTS bank_data (
    consent_id TEXT NOT NULL,
    bank_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    fetched_at INTEGER NOT NULL,
    PRIMARY KEY (consent_id, bank_id)
);
CREATE TABLE IF NOT EXISTS notices (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    browser TEXT NOT NULL,
    kind TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS received_events (
    jti TEXT PRIMARY KEY,
    consent_id TEXT,
    event_type TEXT NOT NULL,
    received_at INTEGER NOT NULL
);
"""

#: A started connection the browser never brought back is dropped after this long.
PENDING_TTL = 15 * 60


@dataclass(frozen=True)
class Pending:
    state: str
    browser: str
    consent_id: str
    verifier: str
    nonce: str
    dpop_key: dict
    banks: list[str]


@dataclass(frozen=True)
class Connection:
    consent_id: str
    browser: str
    banks: list[str]
    dpop_key: dict
    access_token: str
    refresh_token: str | None
    connected_at: int
    fetched_at: int | None


class Store:
    """The demo app's SQLite file; each call opens its own connection (safe across threads)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=10)
        db.row_factory = sqlite3.Row
        try:
            with db:  # one transaction: committed on success, rolled back on error
                yield db
        finally:
            db.close()

    # -- a connection being made -----------------------------------------------------------
    def add_pending(self, pending: Pending) -> None:
        now = int(time.time())
        with self._db() as db:
            db.execute("DELETE FROM pending WHERE created_at < ?", (now - PENDING_TTL,))
            db.execute(
                "INSERT INTO pending VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    pending.state,
                    pending.browser,
                    pending.consent_id,
                    pending.verifier,
                    pending.nonce,
                    json.dumps(pending.dpop_key),
                    json.dumps(pending.banks),
                    now,
                ),
            )

    def take_pending(self, state: str, browser: str) -> Pending | None:
        """The connection started by this browser with this state, removed (used once)."""
        with self._db() as db:
            row = db.execute(
                "SELECT * FROM pending WHERE state = ? AND browser = ? AND created_at >= ?",
                (state, browser, int(time.time()) - PENDING_TTL),
            ).fetchone()
            db.execute("DELETE FROM pending WHERE state = ? AND browser = ?", (state, browser))
        if row is None:
            return None
        return Pending(
            row["state"],
            row["browser"],
            row["consent_id"],
            row["verifier"],
            row["nonce"],
            json.loads(row["dpop_key"]),
            json.loads(row["banks"]),
        )

    # -- connections and their data ---------------------------------------------------------------
    def save_connection(self, connection: Connection) -> None:
        with self._db() as db:
            db.execute(
                "INSERT OR REPLACE INTO connections VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    connection.consent_id,
                    connection.browser,
                    json.dumps(connection.banks),
                    json.dumps(connection.dpop_key),
                    connection.access_token,
                    connection.refresh_token,
                    connection.connected_at,
                    connection.fetched_at,
                ),
            )

    def update_tokens(self, consent_id: str, access_token: str, refresh_token: str | None) -> None:
        with self._db() as db:
            db.execute(
                "UPDATE connections SET access_token = ?, refresh_token = COALESCE(?, refresh_token) "
                "WHERE consent_id = ?",
                (access_token, refresh_token, consent_id),
            )

    def connection(self, consent_id: str) -> Connection | None:
        with self._db() as db:
            row = db.execute("SELECT * FROM connections WHERE consent_id = ?", (consent_id,)).fetchone()
        return None if row is None else _connection(row)

    def connections_of(self, browser: str) -> list[Connection]:
        with self._db() as db:
            rows = db.execute(
                "SELECT * FROM connections WHERE browser = ? ORDER BY connected_at", (browser,)
            ).fetchall()
        return [_connection(row) for row in rows]

    def save_bank_data(self, consent_id: str, bank_id: str, payload: dict) -> None:
        now = int(time.time())
        with self._db() as db:
            if db.execute("SELECT 1 FROM connections WHERE consent_id = ?", (consent_id,)).fetchone() is None:
                return  # the consent ended while its data was being fetched: keep nothing
            db.execute(
                "INSERT OR REPLACE INTO bank_data VALUES (?, ?, ?, ?)",
                (consent_id, bank_id, json.dumps(payload), now),
            )
            db.execute("UPDATE connections SET fetched_at = ? WHERE consent_id = ?", (now, consent_id))

    def bank_data(self, consent_id: str) -> dict[str, dict]:
        """What each bank of the consent answered, by bank id."""
        with self._db() as db:
            rows = db.execute(
                "SELECT bank_id, payload FROM bank_data WHERE consent_id = ?", (consent_id,)
            ).fetchall()
        return {row["bank_id"]: json.loads(row["payload"]) for row in rows}

    def forget_consent(self, consent_id: str) -> str | None:
        """Delete every piece of data held under ``consent_id``; the browser it belonged to, if any."""
        with self._db() as db:
            row = db.execute("SELECT browser FROM connections WHERE consent_id = ?", (consent_id,)).fetchone()
            if row is None:
                row = db.execute("SELECT browser FROM pending WHERE consent_id = ?", (consent_id,)).fetchone()
            db.execute("DELETE FROM bank_data WHERE consent_id = ?", (consent_id,))
            db.execute("DELETE FROM connections WHERE consent_id = ?", (consent_id,))
            db.execute("DELETE FROM pending WHERE consent_id = ?", (consent_id,))
        return None if row is None else row["browser"]

    def holds_anything_under(self, consent_id: str) -> bool:
        with self._db() as db:
            return any(
                db.execute(f"SELECT 1 FROM {table} WHERE consent_id = ?", (consent_id,)).fetchone()  # noqa: S608
                for table in ("connections", "bank_data", "pending")
            )

    # -- notices for the dashboard ---------------------------------------------------------------
    def add_notice(self, browser: str, kind: str) -> None:
        with self._db() as db:
            db.execute(
                "INSERT INTO notices (browser, kind, created_at) VALUES (?, ?, ?)",
                (browser, kind, int(time.time())),
            )

    def notices(self, browser: str) -> list[str]:
        with self._db() as db:
            rows = db.execute("SELECT kind FROM notices WHERE browser = ? ORDER BY id", (browser,)).fetchall()
        return [row["kind"] for row in rows]

    def dismiss_notices(self, browser: str) -> None:
        with self._db() as db:
            db.execute("DELETE FROM notices WHERE browser = ?", (browser,))

    # -- security events received ------------------------------------------------------------------
    def record_event(self, jti: str, consent_id: str | None, event_type: str) -> bool:
        """Note a received SET; False if its ``jti`` was received before (a repeated delivery)."""
        with self._db() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO received_events VALUES (?, ?, ?, ?)",
                (jti, consent_id, event_type, int(time.time())),
            )
            return cursor.rowcount == 1


def _connection(row: sqlite3.Row) -> Connection:
    return Connection(
        row["consent_id"],
        row["browser"],
        json.loads(row["banks"]),
        json.loads(row["dpop_key"]),
        row["access_token"],
        row["refresh_token"],
        row["connected_at"],
        row["fetched_at"],
    )
