"""The participant cabinet's applications: an API user's OAuth clients, registered and kept here.

An app registered here is the same OAuth client ``senim clients add`` makes
(``idp.clients``): private_key_jwt client authentication, the customer's
journey (authorization code, refresh) and the consents API (client
credentials). Its public keys are a JWKS kept here — rotated by adding the
new key, switching, then removing the old one — or a JWKS URI the app
publishes (``idp.client_keys``). Every staff member sees the apps; admins and
developers change them, after a fresh proof. Another participant's app is
"not found".
"""

from __future__ import annotations

import json
from collections.abc import Callable

from flask import Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l

from consent_ui.staff_pages import NotFound, act_then_return, bp, participant_of, sensitive, signed_in
from idp import clients as client_registry
from idp.clients import ClientRegistrationError
from idp.models import Client
from registry.participants import API_USER, get_participant
from registry.staff import StaffMember, require_permission
from senim.database import db


def _production() -> bool:
    return current_app.extensions["senim.settings"].production


def _own_app(member: StaffMember, client_id: str) -> Client:
    try:
        return client_registry.client_of(participant_of(member), client_id)
    except ClientRegistrationError:
        raise NotFound() from None


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _json_field(text: str, what: str) -> dict:
    try:
        value = json.loads(text)
    except ValueError:
        raise ClientRegistrationError(f"the {what} is not JSON") from None
    if not isinstance(value, dict):
        raise ClientRegistrationError(f"the {what} must be a JSON object")
    return value


def _keys_from_form(form: dict) -> tuple[dict | None, str | None]:
    if form.get("key_source") == "jwks_uri":
        return None, (form.get("jwks_uri") or "").strip()
    return _json_field(form.get("jwks") or "", "JWKS"), None


@bp.get("/apps")
@signed_in
def apps(member: StaffMember) -> str:
    participant = get_participant(participant_of(member))
    return render_template(
        "consent_ui/registry/apps.html",
        participant=participant,
        apps=client_registry.clients_of(participant.id),
        may_manage=member.may("manage_apps"),
        is_api_user=API_USER in (participant.roles or []),
    )


@bp.get("/apps/new")
@signed_in
def new_app(member: StaffMember) -> str:
    require_permission(member, "manage_apps")
    participant_of(member)
    return render_template("consent_ui/registry/app_new.html", form={})


@bp.post("/apps")
@sensitive
def register_app(member: StaffMember) -> Response | tuple[str, int]:
    require_permission(member, "manage_apps")
    participant_id = participant_of(member)
    form = request.form
    try:
        jwks, jwks_uri = _keys_from_form(form)
        notification_uri = (form.get("notification_uri") or "").strip() or None
        client = client_registry.register_client(
            name=form.get("name", ""),
            jwks=jwks,
            jwks_uri=jwks_uri,
            redirect_uris=_lines(form.get("redirect_uris", "")),
            scope=client_registry.CABINET_SCOPE,
            grant_types=client_registry.CABINET_GRANT_TYPES,
            production=_production(),
            participant_id=participant_id,
            notification_uri=notification_uri,
        )
    except ClientRegistrationError as refusal:
        db.session.rollback()
        return render_template("consent_ui/registry/app_new.html", form=form, error=str(refusal)), 400
    flash(
        str(_l("The application is registered. Its client_id is %(client_id)s.", client_id=client.client_id))
    )
    return redirect(url_for("staff_ui.app_details", client_id=client.client_id), code=303)


@bp.get("/apps/<client_id>")
@signed_in
def app_details(member: StaffMember, client_id: str) -> str:
    from registry.certificate_authority import MTLS, list_certificates

    client = _own_app(member, client_id)
    certificates = [
        c for c in list_certificates(client.participant_id) if c.purpose == MTLS and c.revoked_at is None
    ]
    return render_template(
        "consent_ui/registry/app.html",
        app=client,
        keys=(client.jwks or {}).get("keys", []),
        may_manage=member.may("manage_apps"),
        certificates=certificates,
        bound=set(client.bound_certificate_serials or []),
    )


@bp.post("/apps/<client_id>/certificates")
@sensitive
def bind_app_certificates(member: StaffMember, client_id: str) -> Response:
    return _app_change(
        member,
        client_id,
        lambda client: client_registry.bind_certificates(client, request.form.getlist("serials")),
        _l("Saved: the app must present one of the chosen certificates (mutual TLS) to get tokens."),
    )


def _app_change(
    member: StaffMember, client_id: str, change: Callable[[Client], object], done: object
) -> Response:
    require_permission(member, "manage_apps")
    client = _own_app(member, client_id)
    return act_then_return(lambda: change(client), url_for("staff_ui.app_details", client_id=client_id), done)


@bp.post("/apps/<client_id>")
@sensitive
def update_app(member: StaffMember, client_id: str) -> Response:
    form = request.form
    return _app_change(
        member,
        client_id,
        lambda client: client_registry.update_client(
            client,
            name=form.get("name", ""),
            redirect_uris=_lines(form.get("redirect_uris", "")),
            notification_uri=(form.get("notification_uri") or "").strip() or None,
            production=_production(),
        ),
        _l("The application is saved."),
    )


@bp.post("/apps/<client_id>/keys")
@sensitive
def add_app_key(member: StaffMember, client_id: str) -> Response:
    return _app_change(
        member,
        client_id,
        lambda client: client_registry.add_client_key(
            client, _json_field(request.form.get("jwk", ""), "key")
        ),
        _l("The key is added. The old keys stay valid until you remove them."),
    )


@bp.post("/apps/<client_id>/keys/<kid>/remove")
@sensitive
def remove_app_key(member: StaffMember, client_id: str, kid: str) -> Response:
    return _app_change(
        member,
        client_id,
        lambda client: client_registry.remove_client_key(client, kid),
        _l("The key is removed: it no longer signs in the application."),
    )


@bp.post("/apps/<client_id>/key-source")
@sensitive
def set_app_key_source(member: StaffMember, client_id: str) -> Response:
    def change(client: Client) -> None:
        jwks, jwks_uri = _keys_from_form(request.form)
        client_registry.set_jwks_uri(client, jwks_uri, jwks, _production())

    return _app_change(member, client_id, change, _l("Where the keys come from is changed."))


@bp.post("/apps/<client_id>/logo")
@sensitive
def upload_app_logo(member: StaffMember, client_id: str) -> Response:
    upload = request.files.get("logo")
    return _app_change(
        member,
        client_id,
        lambda client: client_registry.set_client_logo(client, upload.read() if upload else b""),
        _l("The logo is saved: customers see it on the consent screen."),
    )


@bp.post("/apps/<client_id>/disable")
@sensitive
def disable_app(member: StaffMember, client_id: str) -> Response:
    return _app_change(
        member,
        client_id,
        lambda client: client_registry.set_client_disabled(client.client_id, True),
        _l("The application is disabled: it gets no tokens until enabled again."),
    )


@bp.post("/apps/<client_id>/enable")
@sensitive
def enable_app(member: StaffMember, client_id: str) -> Response:
    return _app_change(
        member,
        client_id,
        lambda client: client_registry.set_client_disabled(client.client_id, False),
        _l("The application is enabled."),
    )
