"""The scopes Senim grants (a module of its own: the client registry and the server both need them)."""

from __future__ import annotations

#: Scopes a customer can grant through the code flow.
CUSTOMER_SCOPES = ("openid", "accounts")
#: Scopes an API user can get for itself with client credentials.
CLIENT_CREDENTIALS_SCOPES = ("consents",)
SCOPES_SUPPORTED = CUSTOMER_SCOPES + CLIENT_CREDENTIALS_SCOPES
