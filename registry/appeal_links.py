"""What an appeal may link to, as the registry knows it: a consent's parties, a routed call's.

Consents live in the idp and routed calls with the resource proxy; the registry
asks no questions of either (DESIGN.md, Layout: dependencies point one way).
The proxy registers a lookup when the app is built (``init_resource_proxy``,
``resource_proxy/appeal_links.py``) and ``registry.appeals`` finds it here —
the same composition as the conformance suite (``registry.conformance``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from flask import current_app

EXTENSION = "senim.appeal_links"


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


class AppealLinks(Protocol):
    def consent(self, consent_id: str) -> LinkedConsent | None:
        """The consent with this id, or None."""

    def routed_call(self, interaction_id: str, party_id: str | None) -> LinkedCall | None:
        """The latest call with this interaction id whose API user or provider is ``party_id``
        (any call for None: an operator's link), or None."""

    def routed_call_by_id(self, call_id: int) -> LinkedCall | None:
        """The call metered under this id, or None."""


def appeal_links() -> AppealLinks:
    """The lookup the application was built with."""
    links = current_app.extensions.get(EXTENSION)
    if links is None:
        raise RuntimeError("no appeal links: the resource proxy registers them (init_resource_proxy)")
    return links
