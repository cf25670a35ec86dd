"""What the demo app does for a browser: connect banks, come back, refresh, disconnect, forget.

Views (``demo_app.views``) are thin and call these; the platform is reached
only through ``demo_app.api_user`` (HTTP), the app's data only through
``demo_app.store``.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from dataclasses import dataclass

import requests
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

from demo_app.aggregation import read_banks
from demo_app.api_user import DEFAULT_PERMISSIONS, ApiUser, PlatformRefused, pkce_pair
from demo_app.banks import BankDirectory
from demo_app.rfc8935_receiver import CONSENT_ENDED, ConsentEvent
from demo_app.store import Connection, Pending, Store

log = logging.getLogger("demo_app")

PURPOSE = "Show all your accounts, balances and spending in one place in Qarjy"
#: Notices the dashboard can show (the texts are in the templates).
REVOKED_IN_SENIM = "revoked_in_senim"
CONSENT_ENDED_NOTICE = "consent_ended"
DISCONNECTED = "disconnected"
REFRESH_FAILED = "refresh_failed"


class ConnectFailed(Exception):
    """A step of connecting did not work; the message is safe to show to the customer."""


@dataclass
class DemoAppService:
    user: ApiUser
    store: Store
    banks: BankDirectory
    permissions: tuple[str, ...] = DEFAULT_PERMISSIONS

    # -- "Connect my accounts" -------------------------------------------------------------------
    def start_connection(self, browser: str, bank_ids: list[str]) -> str:
        """Consent at ``bank_ids`` (awaiting the customer) and a pushed request naming it; the URL
        to send the browser to."""
        known = {bank.id for bank in self.banks.banks()}
        chosen = [bank for bank in dict.fromkeys(bank_ids) if bank in known]
        if not chosen:
            raise ConnectFailed("Choose at least one bank.")
        dpop_key = ECKey.generate_key("P-256")
        user = self.user.with_dpop_key(dpop_key)
        verifier, challenge = pkce_pair()
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        try:
            consent_id = user.ask_consent(chosen, PURPOSE, self.permissions)
            url = user.push(state, nonce, challenge, None, consent_id)
        except (PlatformRefused, requests.RequestException) as error:
            log.warning("connect refused: %s", _short(error))
            raise ConnectFailed("Senim did not accept the request. Please try again in a moment.") from None
        self.store.add_pending(
            Pending(state, browser, consent_id, verifier, nonce, dpop_key.as_dict(private=True), chosen)
        )
        log.info("connection started: consent %s, %d bank(s)", consent_id, len(chosen))
        return url

    def complete_connection(self, browser: str, params: dict[str, str]) -> str:
        """The browser back at the redirect URI: check it, exchange the code, read the banks.

        Returns the consent id. ``ConnectFailed`` when the answer is not for
        this browser, not from the platform, or the customer said no.
        """
        pending = self.store.take_pending(params.get("state", ""), browser)
        if pending is None:  # unknown state, another browser's, or used already
            raise ConnectFailed("This answer does not belong to a connection started here.")
        if not hmac.compare_digest(params.get("iss", ""), self.user.issuer):  # RFC 9207 §2.4
            self._abandon(pending)
            raise ConnectFailed("The answer does not come from Senim.")
        if "error" in params:
            self._abandon(pending)
            if params["error"] == "access_denied":
                raise ConnectFailed("You did not give the consent, so nothing was connected.")
            raise ConnectFailed("Senim could not complete the connection. Please try again.")
        user = self.user.with_dpop_key(ECKey.import_key(pending.dpop_key))
        try:
            tokens = user.exchange(params.get("code", ""), pending.verifier)
            self._check_id_token(user, tokens.get("id_token"), pending.nonce)
        except (PlatformRefused, requests.RequestException, JoseError, ValueError) as error:
            log.warning("code exchange failed: %s", _short(error))
            self._abandon(pending)
            raise ConnectFailed("Senim did not complete the connection. Please try again.") from None
        granted = _granted_banks(tokens.get("authorization_details"), pending.consent_id) or pending.banks
        self.store.save_connection(
            Connection(
                consent_id=pending.consent_id,
                browser=browser,
                banks=granted,
                dpop_key=pending.dpop_key,
                access_token=tokens["access_token"],
                refresh_token=tokens.get("refresh_token"),
                connected_at=int(time.time()),
                fetched_at=None,
            )
        )
        log.info("connected: consent %s, %d bank(s)", pending.consent_id, len(granted))
        self.fetch(pending.consent_id, user, tokens["access_token"], granted)
        return pending.consent_id

    def _check_id_token(self, user: ApiUser, id_token: str | None, nonce: str) -> None:
        if not id_token:
            raise ValueError("no ID token")
        claims = user.id_token_claims(id_token)
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        if claims.get("iss") != user.issuer or user.client_id not in audiences:
            raise ValueError("ID token not for this client")
        if not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
            raise ValueError("ID token nonce")

    def _abandon(self, pending: Pending) -> None:
        """The consent prepared for a connection that did not complete is ended, not left waiting."""
        try:
            self.user.end_consent(pending.consent_id)
        except (PlatformRefused, requests.RequestException) as error:
            log.warning("could not end consent %s: %s", pending.consent_id, _short(error))

    def fetch(self, consent_id: str, user: ApiUser, access_token: str, banks: list[str]) -> None:
        for bank_id, payload in read_banks(user, access_token, banks).items():
            self.store.save_bank_data(consent_id, bank_id, payload)

    # -- the dashboard's buttons ---------------------------------------------------------------------
    def refresh(self, browser: str) -> list[str]:
        """New tokens (refresh token) and fresh data for each of the browser's connections;
        the notices to show."""
        notices = []
        for connection in self.store.connections_of(browser):
            user = self.user.with_dpop_key(ECKey.import_key(connection.dpop_key))
            try:
                if not connection.refresh_token:
                    raise PlatformRefused("refresh", None, "no_refresh_token")
                tokens = user.refresh(connection.refresh_token)
            except PlatformRefused as refused:
                log.info("refresh refused for consent %s: %s", connection.consent_id, refused.error)
                notices.append(self._after_refused_refresh(connection))
                continue
            except requests.RequestException as error:
                log.warning("refresh failed: %s", _short(error))
                notices.append(REFRESH_FAILED)
                continue
            self.store.update_tokens(
                connection.consent_id, tokens["access_token"], tokens.get("refresh_token")
            )
            self.fetch(connection.consent_id, user, tokens["access_token"], connection.banks)
        for notice in notices:
            self.store.add_notice(browser, notice)
        return notices

    def _after_refused_refresh(self, connection: Connection) -> str:
        """Refused: if the consent has ended, its data goes; otherwise the customer may try later."""
        try:
            status = self.user.consent_status(connection.consent_id)
        except (PlatformRefused, requests.RequestException):
            return REFRESH_FAILED
        if status == "Authorised":
            return REFRESH_FAILED
        self.store.forget_consent(connection.consent_id)
        log.info("consent %s is %s: its data was deleted", connection.consent_id, status)
        return CONSENT_ENDED_NOTICE

    def disconnect(self, browser: str, consent_id: str) -> bool:
        """End the consent at the platform (``DELETE /consents/{id}``) and delete its data."""
        connection = self.store.connection(consent_id)
        if connection is None or connection.browser != browser:
            return False
        try:
            self.user.end_consent(consent_id)
        except (PlatformRefused, requests.RequestException) as error:
            # The data goes anyway: the customer asked for it; the consent ends at its expiry at worst.
            log.warning("ending consent %s failed: %s", consent_id, _short(error))
        self.store.forget_consent(consent_id)
        self.store.add_notice(browser, DISCONNECTED)
        log.info("disconnected: consent %s, its data deleted", consent_id)
        return True

    # -- the platform's events ----------------------------------------------------------------------
    def handle_event(self, event: ConsentEvent) -> None:
        """A consent ended in Senim (revoked, expired, rejected): delete all held under it."""
        if event.event_type not in CONSENT_ENDED:
            self.store.record_event(event.jti, event.consent_id, event.event_type)
            return
        browser = self.store.forget_consent(event.consent_id)  # idempotent: a repeat deletes nothing more
        first_time = self.store.record_event(event.jti, event.consent_id, event.event_type)
        if browser is not None and first_time:
            self.store.add_notice(browser, REVOKED_IN_SENIM)
        log.info(
            "consent event %s for consent %s (%s): data deleted",
            event.event_type.rsplit("/", 1)[-1],
            event.consent_id,
            event.reason,
        )


def _granted_banks(details: object, consent_id: str) -> list[str]:
    """The banks the customer kept, from the token response's ``authorization_details`` (RFC 9396 §7)."""
    for detail in details if isinstance(details, list) else []:
        if (
            isinstance(detail, dict)
            and detail.get("type") == "account_information"
            and detail.get("consent_id") == consent_id
        ):
            return [bank for bank in detail.get("provider_ids") or [] if isinstance(bank, str)]
    return []


def _short(error: Exception) -> str:
    """An error for the log: its class and the platform's status and code, never a token."""
    if isinstance(error, PlatformRefused):
        return f"{error.step} {error.status} {error.error}"
    return type(error).__name__
