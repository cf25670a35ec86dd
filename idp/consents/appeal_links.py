"""The consents an appeal links to (``registry.appeal_links``): their parties, read here, where
consents are kept. Registered by ``init_consents``."""

from __future__ import annotations

from idp.consents.models import Consent
from registry.appeal_links import LinkedConsent
from senim.database import db


class IdpConsentLinks:
    """``registry.appeal_links.ConsentLinks`` on the idp's consents."""

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
