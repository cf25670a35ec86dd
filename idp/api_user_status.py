"""A blocked API user's clients get nothing from the authorization server.

From the moment an operator blocks a participant (``registry.participants.
block_participant``) until it is unblocked, every client of that API user is
refused, read live from the registry on each request:

| endpoint                    | check                              | refusal                      |
|-----------------------------|------------------------------------|------------------------------|
| /par                        | check_api_user_active (after auth) | unauthorized_client          |
| /authorize                  | check_client_active                | unauthorized_client (redirected) |
| /token (every grant)        | check_api_user_active              | unauthorized_client; a grant tied to a consent is refused earlier, invalid_grant (idp.consents.binding) |
| /introspect                 | api_user_active                    | ``active: false`` for every token of the client |
| /userinfo (any access token)| userinfo: client_api_user_active   | invalid_token                |
| /consents (its own check)   | idp.consents.service               | 403 KZ.SENIM.Participant.Blocked |
| /open-banking/v1/… (proxy)  | resource_proxy.checks              | 403 (its own refusals)       |

Revocation (RFC 7009) stays open to a blocked API user's clients: ending
tokens is always allowed. A client registered before the registry knew
participants (no ``participant_id``) is not concerned.
"""

from __future__ import annotations

from idp.errors import ApiUserNotActive
from registry.participants import API_USER, ParticipantError, require_active


def api_user_active(participant_id: str | None) -> bool:
    """Whether the API user a client belongs to may act now (True for a client of no participant)."""
    if participant_id is None:
        return True
    try:
        require_active(participant_id, API_USER)
    except ParticipantError:
        return False
    return True


def check_api_user_active(participant_id: str | None) -> None:
    """Refuse a client whose API user is blocked (or otherwise not an active API user)."""
    if not api_user_active(participant_id):
        raise ApiUserNotActive()


def client_api_user_active(client_id: str) -> bool:
    """Whether the API user of the client ``client_id`` may act now (for a token: its client's)."""
    from sqlalchemy import select

    from idp.models import Client
    from senim.database import db

    found = db.session.execute(select(Client.participant_id).where(Client.client_id == client_id)).first()
    return found is not None and api_user_active(found.participant_id)
