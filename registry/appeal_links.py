"""What an appeal may link to: a routed call's parties, a consent's.

Routed calls are the registry's own metering rows, read here. Consents live in
the idp, which the registry asks no questions of (DESIGN.md, Layout:
dependencies point one way): the idp registers a lookup when the app is built
(``init_consents``, ``idp/consents/appeal_links.py``) and ``registry.appeals``
finds it here — the same composition as the conformance suite
(``registry.conformance``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from flask import current_app
from sqlalchemy import or_, select

from registry.models import RoutedCall
from senim.database import db

EXTENSION = "senim.consent_links"


@dataclass(frozen=True)
class LinkedConsent:
    """A consent's parties: its API user, its banks and its customer (never its accounts)."""

    id: str
    api_user_id: str | None
    bank_ids: frozenset[str]
    customer_iin: str | None


@dataclass(frozen=True)
class LinkedCall:
    """A routed call's parties, as metered by the proxy."""

    id: int
    interaction_id: str
    api_user_id: str
    provider_id: str | None
    api_id: str | None


class ConsentLinks(Protocol):
    def consent(self, consent_id: str) -> LinkedConsent | None:
        """The consent with this id, or None."""


def consent_links() -> ConsentLinks:
    """The consent lookup the application was built with."""
    links = current_app.extensions.get(EXTENSION)
    if links is None:
        raise RuntimeError("no consent links: the idp registers them (init_consents)")
    return links


def _call(row: RoutedCall | None) -> LinkedCall | None:
    if row is None:
        return None
    return LinkedCall(
        id=row.id,
        interaction_id=row.interaction_id,
        api_user_id=row.api_user_id,
        provider_id=row.provider_id,
        api_id=row.api_id,
    )


def routed_call(interaction_id: str, party_id: str | None) -> LinkedCall | None:
    """The latest call with this interaction id whose API user or provider is ``party_id``
    (any call for None: an operator's link), or None."""
    query = select(RoutedCall).where(RoutedCall.interaction_id == interaction_id)
    if party_id is not None:
        query = query.where(or_(RoutedCall.api_user_id == party_id, RoutedCall.provider_id == party_id))
    return _call(db.session.scalar(query.order_by(RoutedCall.at.desc(), RoutedCall.id.desc()).limit(1)))


def routed_call_by_id(call_id: int) -> LinkedCall | None:
    """The call metered under this id, or None."""
    return _call(db.session.get(RoutedCall, call_id))
