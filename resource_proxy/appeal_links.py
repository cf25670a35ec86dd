"""The routed calls and consents an appeal links to (``registry.appeal_links``), read here,
where both are known: the proxy's metering and the idp's consents."""

from __future__ import annotations

from sqlalchemy import or_, select

from idp.consents.models import Consent
from registry.appeal_links import LinkedCall, LinkedConsent
from resource_proxy.models import RoutedCall
from senim.database import db


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


class ProxyAppealLinks:
    """``registry.appeal_links.AppealLinks`` on this platform's tables."""

    def consent(self, consent_id: str) -> LinkedConsent | None:
        row = db.session.get(Consent, consent_id) if len(consent_id) <= 36 else None
        if row is None:
            return None
        return LinkedConsent(
            id=row.id,
            api_user_id=row.participant_id,
            bank_ids=frozenset(row.provider_ids or []) | frozenset(row.authorised_provider_ids or []),
            customer_iin=row.customer_iin,
        )

    def routed_call(self, interaction_id: str, party_id: str | None) -> LinkedCall | None:
        query = select(RoutedCall).where(RoutedCall.interaction_id == interaction_id)
        if party_id is not None:
            query = query.where(or_(RoutedCall.api_user_id == party_id, RoutedCall.provider_id == party_id))
        return _call(db.session.scalar(query.order_by(RoutedCall.at.desc(), RoutedCall.id.desc()).limit(1)))

    def routed_call_by_id(self, call_id: int) -> LinkedCall | None:
        return _call(db.session.get(RoutedCall, call_id))
