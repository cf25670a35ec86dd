"""Billing in tests: metered calls inserted in bulk, and tariffs from a moment in the past."""

from __future__ import annotations

import uuid

from sqlalchemy import insert

from registry.models import Tariff
from resource_proxy.models import RoutedCall
from senim.database import db

BALANCES = "GET /accounts/{AccountId}/balances"
ACCOUNTS = "GET /accounts"


def calls(
    *,
    at: int,
    api_user_id: str,
    provider_id: str | None,
    api_id: str | None,
    endpoint: str = BALANCES,
    count: int = 1,
    status: int = 200,
    outcome: str = "routed",
) -> None:
    """``count`` metered calls at ``at`` (epoch seconds; stored in milliseconds), in one INSERT."""
    rows = [
        {
            "at": at * 1000 + index,
            "api_user_id": api_user_id,
            "client_id": "app-1",
            "provider_id": provider_id,
            "api_id": api_id,
            "endpoint": endpoint,
            "status": status,
            "outcome": outcome,
            "latency_ms": 12,
            "consent_id": None,
            "interaction_id": str(uuid.uuid4()),
        }
        for index in range(count)
    ]
    db.session.execute(insert(RoutedCall.__table__), rows)
    db.session.commit()


def backdated_tariff(api_id: str, endpoint: str, price_tiyn: int, effective_from: int) -> None:
    """A tariff in force since ``effective_from`` (``set_tariff`` refuses the past: closed periods)."""
    db.session.add(
        Tariff(
            id=str(uuid.uuid4()),
            api_id=api_id,
            endpoint=endpoint,
            price_tiyn=price_tiyn,
            effective_from=effective_from,
            set_by="test",
            created_at=effective_from,
        )
    )
    db.session.commit()
