"""APIs in the cabinet and the console, and the public showcase.

- An API provider's staff submit their API (``registry.publication``): the
  sandbox's conformance suite runs at once and its report is shown; only a
  passing API is published. They see each check run, ask for a re-check,
  unpublish and publish again.
- The showcase (``/registry/showcase``, public) lists the published APIs
  with owner, standard, version, health (uptime and latency from the
  checks) and the standard's OpenAPI document in readable form. A signed-in
  API user's admin or developer connects one of their apps to an API there:
  the subscription is made at once, as in the pilot.
- "Connected APIs" lists what the API user's apps are subscribed to, and
  ends a subscription.
- Operators see every API with its status and last check, and re-check,
  publish or unpublish any.
"""

from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l

from consent_ui.staff_pages import (
    NotFound,
    _signed_in,
    act_then_return,
    bp,
    participant_of,
    sensitive,
    signed_in,
)
from idp.clients import clients_of
from registry import apis as api_registry
from registry import publication
from registry.apis import ApiRegistryError
from registry.billing import prices_in_force
from registry.models import PublishedApi
from registry.participants import API_PROVIDER, API_USER, get_participant
from registry.showcase import api_health, check_history, showcase
from registry.staff import StaffMember, require_permission
from resource_proxy.standard import load_document
from senim import clock
from senim.database import db

HISTORY_SHOWN = 20
#: How the API statuses read on the pages.
API_STATUS_WORDS = {
    "submitted": _l("Being checked"),
    "published": _l("Published"),
    "refused": _l("Refused: the sandbox failed a check"),
    "suspended": _l("Suspended: failed a scheduled check"),
    "unpublished": _l("Unpublished"),
}
CHECK_STATUS_WORDS = {"passed": _l("passed"), "failed": _l("failed"), "not_run": _l("not run")}


@bp.context_processor
def _api_words() -> dict:
    return {"API_STATUS_WORDS": API_STATUS_WORDS, "CHECK_STATUS_WORDS": CHECK_STATUS_WORDS}


def _visible_api(member: StaffMember, api_id: str) -> PublishedApi:
    """The API, if the member's organisation provides it (or the member is an operator)."""
    api = api_registry.get_api(api_id)
    if api is None or not (member.is_operator or api.provider_id == member.participant_id):
        raise NotFound()
    return api


# -- the provider's APIs -----------------------------------------------------------------------
@bp.get("/apis")
@signed_in
def provider_apis(member: StaffMember) -> str:
    if member.is_operator:
        return render_template(
            "consent_ui/registry/console_apis.html",
            apis=[(api, get_participant(api.provider_id)) for api in api_registry.list_apis()],
        )
    participant = get_participant(participant_of(member))
    apis = [api for api in api_registry.list_apis() if api.provider_id == participant.id]
    return render_template(
        "consent_ui/registry/apis.html",
        participant=participant,
        apis=apis,
        is_provider=API_PROVIDER in (participant.roles or []),
        may_manage=member.may("manage_apis"),
        form={},
        default_iin=publication.DEFAULT_SANDBOX_CUSTOMER_IIN,
    )


@bp.post("/apis")
@sensitive
def submit_api(member: StaffMember) -> Response | tuple[str, int]:
    require_permission(member, "manage_apis")
    participant_of(member)
    form = request.form
    try:
        outcome = publication.submit_api(
            provider_id=member.participant_id,
            base_url=form.get("base_url", ""),
            sandbox_url=form.get("sandbox_url", ""),
            description=form.get("description", ""),
            sandbox_customer_iin=(form.get("sandbox_customer_iin") or "").strip()
            or publication.DEFAULT_SANDBOX_CUSTOMER_IIN,
        )
    except ApiRegistryError as refusal:
        db.session.rollback()
        participant = get_participant(member.participant_id)
        page = render_template(
            "consent_ui/registry/apis.html",
            participant=participant,
            apis=[api for api in api_registry.list_apis() if api.provider_id == participant.id],
            is_provider=API_PROVIDER in (participant.roles or []),
            may_manage=True,
            form=form,
            error=str(refusal),
            default_iin=publication.DEFAULT_SANDBOX_CUSTOMER_IIN,
        )
        return page, 400
    if outcome.report.passed:
        flash(str(_l("Every check passed: the API is published on the showcase.")))
    else:
        flash(str(_l("The sandbox failed a check: the API is not published. See the report below.")), "error")
    return redirect(url_for("staff_ui.api_details", api_id=outcome.api.id), code=303)


@bp.get("/apis/<api_id>")
@signed_in
def api_details(member: StaffMember, api_id: str) -> str:
    api = _visible_api(member, api_id)
    runs = check_history(api.id, limit=HISTORY_SHOWN)
    return render_template(
        "consent_ui/registry/api.html",
        api=api,
        provider=get_participant(api.provider_id),
        health=api_health(api),
        latest=runs[0] if runs else None,
        runs=runs,
        may_manage=member.may("manage_apis") or member.is_operator,
    )


def _api_action(member: StaffMember, api_id: str, action: str) -> Response:
    api = _visible_api(member, api_id)
    if not member.is_operator:
        require_permission(member, "manage_apis")
    try:
        if action == "unpublish":
            api_registry.set_published(api.id, False)
            flash(str(_l("The API is unpublished: calls to it are refused and it left the showcase.")))
        else:
            passed = publication.recheck_api(api.id).report.passed
            if passed and action == "publish":
                api_registry.set_published(api.id, True)
            if passed:
                flash(str(_l("Every check passed.")))
            else:
                flash(str(_l("The sandbox failed a check.")), "error")
    except ApiRegistryError as refusal:
        db.session.rollback()
        flash(str(refusal), "error")
    return redirect(url_for("staff_ui.api_details", api_id=api.id), code=303)


@bp.post("/apis/<api_id>/recheck")
@sensitive
def recheck_api(member: StaffMember, api_id: str) -> Response:
    return _api_action(member, api_id, "recheck")


@bp.post("/apis/<api_id>/unpublish")
@sensitive
def unpublish_api(member: StaffMember, api_id: str) -> Response:
    return _api_action(member, api_id, "unpublish")


@bp.post("/apis/<api_id>/publish")
@sensitive
def publish_api(member: StaffMember, api_id: str) -> Response:
    """Publishing again goes through the sandbox: a re-check, and published only if it passes."""
    return _api_action(member, api_id, "publish")


# -- the showcase (public) -----------------------------------------------------------------------
def _member_or_none() -> StaffMember | None:
    try:
        return _signed_in()[1]
    except Exception:  # noqa: BLE001 - the showcase is public: no session is no member
        return None


@bp.get("/showcase")
def showcase_page() -> str | tuple[str, int]:
    query = request.args.get("q", "")
    try:
        entries = showcase(query)
    except ApiRegistryError as refusal:
        return render_template(
            "consent_ui/registry/showcase.html", entries=[], q=query[:100], error=str(refusal)
        ), 400
    return render_template(
        "consent_ui/registry/showcase.html", entries=entries, q=query, member=_member_or_none()
    )


def _operations(document: dict) -> list[dict]:
    """The standard's operations as a reader wants them: method, path, summary, parameters, answers."""
    operations = []
    for path, item in document.get("paths", {}).items():
        shared = item.get("parameters", [])
        for method in ("get", "post", "put", "delete"):
            operation = item.get(method)
            if not operation:
                continue
            parameters = [_resolve(document, p) for p in [*shared, *operation.get("parameters", [])]]
            operations.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": operation.get("summary") or operation.get("description", ""),
                    "parameters": [
                        {
                            "name": p.get("name"),
                            "in": p.get("in"),
                            "required": p.get("required", False),
                            "description": p.get("description", ""),
                        }
                        for p in parameters
                    ],
                    "responses": [
                        {"status": status, "description": _resolve(document, answer).get("description", "")}
                        for status, answer in operation.get("responses", {}).items()
                    ],
                    "security": [
                        name for requirement in operation.get("security", []) for name in requirement
                    ],
                }
            )
    return operations


def _resolve(document: dict, node: dict) -> dict:
    """A ``$ref`` within the document, followed (one level is all the standard uses here)."""
    ref = node.get("$ref") if isinstance(node, dict) else None
    if not ref or not ref.startswith("#/"):
        return node
    target: object = document
    for part in ref[2:].split("/"):
        target = target.get(part, {}) if isinstance(target, dict) else {}
    return target if isinstance(target, dict) else {}


@bp.get("/showcase/<api_id>")
def showcase_api(api_id: str) -> str:
    api = api_registry.get_api(api_id)
    if api is None or api.status != "published":
        abort(404)
    member = _member_or_none()
    apps = []
    if member is not None and not member.is_operator and member.may("manage_apps"):
        participant = get_participant(member.participant_id)
        if API_USER in (participant.roles or []):
            apps = [app for app in clients_of(participant.id) if app.disabled_at is None]
    document = load_document()
    return render_template(
        "consent_ui/registry/showcase_api.html",
        api=api,
        provider=get_participant(api.provider_id),
        health=api_health(api),
        info=document.get("info", {}),
        operations=_operations(document),
        member=member,
        apps=apps,
        subscribed={app.client_id for app in apps if api_registry.active_subscription(api.id, app.client_id)},
        tariffs=prices_in_force(api.id, clock.now_int()),
    )


@bp.post("/showcase/<api_id>/connect")
@sensitive
def connect_api(member: StaffMember, api_id: str) -> Response:
    require_permission(member, "manage_apps")
    participant_of(member)
    api = api_registry.get_api(api_id)
    if api is None or api.status != "published":
        raise NotFound()
    client_id = request.form.get("client_id", "")
    if client_id not in {
        app.client_id for app in clients_of(member.participant_id) if app.disabled_at is None
    }:
        raise NotFound()  # another's app, or a disabled one: nothing to connect
    try:
        api_registry.subscribe(api_id=api.id, client_id=client_id, participant_id=member.participant_id)
    except ApiRegistryError as refusal:
        db.session.rollback()
        flash(str(refusal), "error")
        return redirect(url_for("staff_ui.showcase_api", api_id=api.id), code=303)
    flash(str(_l("Connected: the app may now call this API for customers who consent.")))
    return redirect(url_for("staff_ui.connected_apis"), code=303)


# -- the API user's connected APIs -----------------------------------------------------------------
@bp.get("/connected")
@signed_in
def connected_apis(member: StaffMember) -> str:
    apps = {app.client_id: app for app in clients_of(participant_of(member))}
    rows = []
    for subscription in api_registry.list_subscriptions():
        if subscription.client_id in apps and subscription.status == "active":
            api = api_registry.get_api(subscription.api_id)
            rows.append((subscription, apps[subscription.client_id], api, get_participant(api.provider_id)))
    return render_template(
        "consent_ui/registry/connected.html", rows=rows, may_manage=member.may("manage_apps")
    )


@bp.post("/connected/<api_id>/<client_id>/end")
@sensitive
def end_connection(member: StaffMember, api_id: str, client_id: str) -> Response:
    require_permission(member, "manage_apps")
    if member.is_operator or client_id not in {app.client_id for app in clients_of(member.participant_id)}:
        raise NotFound()
    return act_then_return(
        lambda: api_registry.end_subscription(api_id=api_id, client_id=client_id),
        url_for("staff_ui.connected_apis"),
        _l("Disconnected: the app's calls to this API are refused from now on."),
    )
