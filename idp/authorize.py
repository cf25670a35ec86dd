"""The authorization endpoint: PAR only, code flow only.

``GET /authorize?client_id=…&request_uri=…`` loads the pushed request and
hands the customer's browser off to the interaction (login, then consent);
``GET /authorize/resume/<interaction>`` picks up the finished interaction and
redirects back to the client with ``code``, ``state`` and ``iss``
(RFC 9207 §2), or with the error.

Checks of ``/authorize``, in order:

| # | check                          | refusal                                  |
|---|--------------------------------|------------------------------------------|
| 1 | check_request_uri_present      | invalid_request (PAR required, RFC 9126 §4)   |
| 2 | check_only_par_parameters      | invalid_request (FAPI 2.0 §5.3.1.2 item 4)    |
| 3 | load_pushed_request            | invalid_request_uri (unknown, expired, used)  |
| 4 | check_client_matches_request   | invalid_request_uri                           |
| 5 | check_client_active            | unauthorized_client (redirected): disabled, or its API user blocked |
| 6 | check_authorization_details_still_hold | invalid_authorization_details (redirected): e.g. the consent was ended or timed out since PAR |

The login and consent pages read and finish the interaction with
``pending_interaction`` and ``complete_interaction``, which check the same
browser binding as the resume step.

Checks of ``/authorize/resume``: check_interaction_exists,
check_browser_binding, check_interaction_not_expired,
check_interaction_completed, check_interaction_not_resumed. Errors found
before the pushed request is loaded are shown to the customer and never
redirected (RFC 6749 §4.1.2.1).
"""

from __future__ import annotations

import hmac
import re
import secrets
import uuid
from dataclasses import dataclass

from authlib.common.urls import add_params_to_uri
from sqlalchemy import select, update

from idp import errors
from idp.api_user_status import api_user_active
from idp.consents.binding import granted_consent_id
from idp.models import (
    Authorization,
    AuthorizationCode,
    Client,
    Interaction,
    PushedAuthorizationRequest,
    secret_hash,
)
from idp.rfc9396_authorization_details import parse_authorization_details
from senim import clock
from senim.database import db

ALLOWED_AUTHORIZE_PARAMETERS = {"client_id", "request_uri"}
BROWSER_COOKIE = "senim_interaction"
INTERACTION_ID_FORMAT = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


@dataclass
class HandOff:
    """The interaction started for a browser, and the cookie that binds it."""

    interaction: Interaction
    browser_secret: str


def check_request_uri_present(args: dict) -> None:
    if not args.get("request_uri"):
        raise errors.PushedAuthorizationRequired()
    if not args.get("client_id"):
        raise errors.InvalidRequest("client_id is required.")


def check_only_par_parameters(args: dict) -> None:
    extra = set(args) - ALLOWED_AUTHORIZE_PARAMETERS
    if extra:
        raise errors.ParametersOutsidePar()


def load_pushed_request(request_uri: str) -> PushedAuthorizationRequest:
    # RFC 9126 §2.2 + FAPI 2.0: single use, short lifetime. The conditional
    # UPDATE marks it used so that of two racing browsers only one proceeds.
    par = db.session.scalar(
        select(PushedAuthorizationRequest).where(
            PushedAuthorizationRequest.request_uri_hash == secret_hash(request_uri)
        )
    )
    now = clock.now_int()
    if par is None or par.expires_at <= now:
        raise errors.InvalidRequestUri()
    claimed = db.session.execute(
        update(PushedAuthorizationRequest)
        .where(PushedAuthorizationRequest.id == par.id, PushedAuthorizationRequest.used_at.is_(None))
        .values(used_at=now)
        .returning(PushedAuthorizationRequest.id)
    ).first()
    if claimed is None:
        raise errors.InvalidRequestUri()
    return par


def check_client_matches_request(par: PushedAuthorizationRequest, client_id: str) -> None:
    if not hmac.compare_digest(par.client_id.encode(), client_id.encode()):
        raise errors.InvalidRequestUri("The request_uri was pushed by another client.")


def check_client_active(client: Client | None, par: PushedAuthorizationRequest) -> Client:
    if client is None or client.disabled_at is not None:
        raise errors.UnauthorizedClient("The client is disabled.", **redirect_to(par))
    if not api_user_active(client.participant_id):  # idp.api_user_status
        raise errors.ApiUserNotActive(**redirect_to(par))
    return client


def check_authorization_details_still_hold(client: Client, par: PushedAuthorizationRequest) -> None:
    """RFC 9396: the details' rules run again, as things may have changed since the push."""
    try:
        parse_authorization_details(par.parameters.get("authorization_details"), client)
    except errors.InvalidAuthorizationDetails as refusal:
        raise errors.InvalidAuthorizationDetails(refusal.description, **redirect_to(par)) from None


def redirect_to(par: PushedAuthorizationRequest) -> dict:
    """Where errors found after the pushed request is loaded may be sent."""
    return {"redirect_uri": par.parameters["redirect_uri"], "state": par.parameters.get("state")}


def start_authorization(args: dict, interaction_ttl: int) -> HandOff:
    """Run the /authorize checks and start the customer's interaction."""
    check_request_uri_present(args)
    check_only_par_parameters(args)
    par = load_pushed_request(args["request_uri"])
    check_client_matches_request(par, args["client_id"])
    client = db.session.scalar(select(Client).where(Client.client_id == par.client_id))
    check_client_active(client, par)
    check_authorization_details_still_hold(client, par)
    now = clock.now_int()
    browser_secret = secrets.token_urlsafe(32)
    interaction = Interaction(
        id=secrets.token_urlsafe(24),
        browser_binding_hash=secret_hash(browser_secret),
        par_id=par.id,
        client_id=par.client_id,
        created_at=now,
        expires_at=now + interaction_ttl,
    )
    db.session.add(interaction)
    db.session.commit()
    return HandOff(interaction=interaction, browser_secret=browser_secret)


# -- the interaction: what the login and consent pages call -------------------------
def pending_interaction(interaction_id: str, browser_secret: str | None) -> tuple[Interaction, dict]:
    """An interaction that is waiting for the customer, with its request parameters.

    Only the browser that started it (its binding cookie) may see or finish
    it: otherwise an attacker could start a flow, send the link to a victim,
    let the victim log in, and resume it in the attacker's own browser.
    """
    interaction = check_interaction_exists(interaction_id)
    check_browser_binding(interaction, browser_secret)
    if interaction.completed_at is not None or interaction.expires_at <= clock.now_int():
        raise errors.InteractionInvalid()
    par = db.session.get(PushedAuthorizationRequest, interaction.par_id)
    return interaction, dict(par.parameters)


def complete_interaction(
    interaction_id: str,
    browser_secret: str | None,
    *,
    subject: str | None,
    approved: bool,
    auth_time: int | None = None,
    acr: str | None = None,
    amr: list[str] | None = None,
    authorization_details: list[dict] | None = None,
) -> Interaction:
    """Record the outcome of the customer's login and consent.

    Called by the pages that authenticated the customer (the two factors) and
    showed the consent screen; never reachable from a route of its own.
    """
    interaction, params = pending_interaction(interaction_id, browser_secret)
    if approved and not subject:
        raise ValueError("an approved interaction needs the authenticated subject")
    interaction.completed_at = clock.now_int()
    interaction.decision = "approved" if approved else "rejected"
    interaction.subject = subject
    interaction.auth_time = auth_time or interaction.completed_at
    interaction.acr = acr
    interaction.amr = amr
    interaction.granted_authorization_details = (
        authorization_details if authorization_details is not None else params.get("authorization_details")
    )
    db.session.commit()
    return interaction


# -- resuming -----------------------------------------------------------------------
def check_interaction_exists(interaction_id: str) -> Interaction:
    if not INTERACTION_ID_FORMAT.match(interaction_id or ""):
        raise errors.InteractionInvalid()
    interaction = db.session.get(Interaction, interaction_id)
    if interaction is None:
        raise errors.InteractionInvalid()
    return interaction


def check_browser_binding(interaction: Interaction, browser_secret: str | None) -> None:
    presented = secret_hash(browser_secret or "")
    if not hmac.compare_digest(presented, interaction.browser_binding_hash):
        raise errors.InteractionInvalid()


def check_interaction_not_expired(interaction: Interaction) -> None:
    if interaction.expires_at <= clock.now_int():
        raise errors.InteractionInvalid()


def check_interaction_completed(interaction: Interaction) -> None:
    if interaction.completed_at is None:
        raise errors.InteractionInvalid("The sign-in step has not been completed.")


def check_interaction_not_resumed(interaction: Interaction) -> None:
    claimed = db.session.execute(
        update(Interaction)
        .where(Interaction.id == interaction.id, Interaction.resumed_at.is_(None))
        .values(resumed_at=clock.now_int())
        .returning(Interaction.id)
    ).first()
    if claimed is None:
        raise errors.InteractionInvalid()


def resume_authorization(interaction_id: str, browser_secret: str | None, issuer: str, code_ttl: int) -> str:
    """The redirect back to the client once the interaction is finished."""
    interaction = check_interaction_exists(interaction_id)
    check_browser_binding(interaction, browser_secret)
    check_interaction_not_expired(interaction)
    check_interaction_completed(interaction)
    check_interaction_not_resumed(interaction)
    par = db.session.get(PushedAuthorizationRequest, interaction.par_id)
    params = par.parameters
    response: list[tuple[str, str]] = []
    if interaction.decision != "approved":
        response.append(("error", "access_denied"))
        response.append(("error_description", "The customer did not approve the request."))
    else:
        code = issue_authorization_code(interaction, params, code_ttl)
        response.append(("code", code))
    if params.get("state"):
        response.append(("state", params["state"]))
    response.append(("iss", issuer))  # RFC 9207 §2
    db.session.commit()
    return add_params_to_uri(params["redirect_uri"], response)


def issue_authorization_code(interaction: Interaction, params: dict, code_ttl: int) -> str:
    now = clock.now_int()
    authz = Authorization(
        id=str(uuid.uuid4()),
        client_id=interaction.client_id,
        subject=interaction.subject,
        scope=params["scope"],
        authorization_details=interaction.granted_authorization_details,
        dpop_jkt=params.get("dpop_jkt"),
        auth_time=interaction.auth_time,
        acr=interaction.acr,
        amr=interaction.amr,
        created_at=now,
        # the consent the customer approved: the grant lives only as long as it does
        consent_id=granted_consent_id(interaction.granted_authorization_details),
    )
    code = secrets.token_urlsafe(32)
    db.session.add(authz)
    db.session.add(
        AuthorizationCode(
            code_hash=secret_hash(code),
            authorization_id=authz.id,
            client_id=interaction.client_id,
            redirect_uri=params["redirect_uri"],
            code_challenge=params["code_challenge"],
            code_challenge_method=params["code_challenge_method"],
            nonce=params.get("nonce"),
            expires_at=now + code_ttl,
        )
    )
    return code
