"""Consents as tests ask for them: banks on record and a valid request body."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from registry.participants import API_PROVIDER, add_participant

#: Valid BINs (check digit right, 5th digit 4: a legal entity).
BANK_BINS = ("990140000790", "990240000080", "990340000371")


def add_banks(count: int = 2) -> list[str]:
    """Active API providers; their participant ids."""
    return [
        add_participant(name=f"Bank {i + 1}", bin=BANK_BINS[i], roles=[API_PROVIDER]).id for i in range(count)
    ]


def iso_in(now: float, **delta: float) -> str:
    return (datetime.fromtimestamp(now, UTC) + timedelta(**delta)).isoformat()


def consent_body(now: float, banks: list[str], **data: object) -> dict:
    body = {
        "Permissions": ["ReadAccountsBasic", "ReadBalances"],
        "ExpirationDateTime": iso_in(now, days=90),
        "ProviderIds": list(banks),
        "Purpose": "Show all your accounts in one budget app",
    }
    body.update(data)
    return {"Data": {k: v for k, v in body.items() if v is not None}}
