"""The participant cabinet's applications: register, change, rotate keys, disable — an API user's staff only."""

from __future__ import annotations

import json
import re

import pytest
from joserfc.jwk import ECKey

from idp.models import Client
from senim.database import db
from tests.support.api_user import ApiUser
from tests.support.staff import bank, fintech, joined


def _jwk(kid: str) -> tuple[ECKey, dict]:
    key = ECKey.generate_key("P-256")
    return key, {**key.as_dict(private=False), "kid": kid, "alg": "ES256", "use": "sig"}


def _client(client_id: str) -> Client:
    db.session.expire_all()
    return db.session.scalar(db.select(Client).where(Client.client_id == client_id))


@pytest.fixture
def developer(app):
    participant = fintech()
    joined(app, participant_id=participant.id, role="admin", email="admin@qarjy.kz")
    return joined(app, participant_id=participant.id, role="developer", email="dev@qarjy.kz")


def _register(staff, **fields) -> object:
    key, jwk = _jwk("2026-12")
    form = {
        "name": "Qarjy",
        "redirect_uris": "https://qarjy.kz/callback\nhttps://qarjy.kz/callback2",
        "key_source": "jwks",
        "jwks": json.dumps({"keys": [jwk]}),
        "notification_uri": "https://qarjy.kz/events",
    }
    form.update(fields)
    answer = staff.post_form("/registry/apps", form, "/registry/apps/new")
    return answer, key


def test_a_developer_registers_an_app_that_gets_tokens(app, developer, clock):
    answer, key = _register(developer)
    assert answer.status_code == 303
    client_id = answer.headers["Location"].rsplit("/", 1)[1]
    client = _client(client_id)
    assert client.participant_id == developer_participant(developer)
    assert client.redirect_uris == ["https://qarjy.kz/callback", "https://qarjy.kz/callback2"]
    assert client.notification_uri == "https://qarjy.kz/events"
    page = developer.http.get(f"/registry/apps/{client_id}").get_data(as_text=True)
    assert client_id in page and "2026-12" in page
    api_user = ApiUser(http=app.test_client(), client_id=client_id, key=key, now=clock.now, kid="2026-12")
    assert api_user.client_credentials().status_code == 200


def developer_participant(staff) -> str:
    from registry.staff import get_member

    return get_member(staff.id).participant_id


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"redirect_uris": "http://qarjy.kz/callback"}, "redirect URI must be an absolute https URL"),
        ({"redirect_uris": ""}, "needs at least one redirect URI"),
        ({"jwks": "not json"}, "the JWKS is not JSON"),
        ({"jwks": json.dumps({"keys": [{"kty": "EC", "d": "x"}]})}, "private key"),
        (
            {"key_source": "jwks_uri", "jwks_uri": "http://qarjy.kz/jwks"},
            "JWKS URI must be an absolute https URL",
        ),
        ({"name": ""}, "name must have 1 to 200 characters"),
        ({"notification_uri": "https://user:pw@qarjy.kz/e"}, "must not carry credentials"),
    ],
)
def test_a_wrong_app_is_refused_with_the_reason_and_nothing_is_registered(app, developer, fields, says):
    answer, _key = _register(developer, **fields)
    assert answer.status_code == 400 and says in answer.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count()).select_from(Client)) == 0


def test_keys_are_rotated_without_downtime(app, developer, clock):
    answer, old_key = _register(developer)
    client_id = answer.headers["Location"].rsplit("/", 1)[1]
    new_key, new_jwk = _jwk("2027-01")
    developer.post_form(
        f"/registry/apps/{client_id}/keys", {"jwk": json.dumps(new_jwk)}, f"/registry/apps/{client_id}"
    )
    for key, kid in ((old_key, "2026-12"), (new_key, "2027-01")):  # both work in between
        api_user = ApiUser(http=app.test_client(), client_id=client_id, key=key, now=clock.now, kid=kid)
        assert api_user.client_credentials().status_code == 200
    developer.post_form(
        f"/registry/apps/{client_id}/keys/2026-12/remove", csrf_from=f"/registry/apps/{client_id}"
    )
    old = ApiUser(http=app.test_client(), client_id=client_id, key=old_key, now=clock.now, kid="2026-12")
    assert old.client_credentials().status_code == 401
    assert [k["kid"] for k in _client(client_id).jwks["keys"]] == ["2027-01"]


def test_the_last_key_stays_and_a_key_without_kid_is_refused(app, developer):
    answer, _key = _register(developer)
    client_id = answer.headers["Location"].rsplit("/", 1)[1]
    developer.post_form(
        f"/registry/apps/{client_id}/keys/2026-12/remove", csrf_from=f"/registry/apps/{client_id}"
    )
    key = ECKey.generate_key("P-256")
    page = developer.post_form(
        f"/registry/apps/{client_id}/keys",
        {"jwk": json.dumps(key.as_dict(private=False))},
        f"/registry/apps/{client_id}",
    )
    assert page.status_code == 303
    shown = developer.http.get(f"/registry/apps/{client_id}").get_data(as_text=True)
    assert "each key needs a key id (kid)" in shown
    assert [k["kid"] for k in _client(client_id).jwks["keys"]] == ["2026-12"]


def test_a_disabled_app_gets_no_tokens_until_enabled(app, developer, clock):
    answer, key = _register(developer)
    client_id = answer.headers["Location"].rsplit("/", 1)[1]
    api_user = ApiUser(http=app.test_client(), client_id=client_id, key=key, now=clock.now, kid="2026-12")
    developer.post_form(f"/registry/apps/{client_id}/disable", csrf_from=f"/registry/apps/{client_id}")
    assert api_user.client_credentials().status_code == 401
    developer.post_form(f"/registry/apps/{client_id}/enable", csrf_from=f"/registry/apps/{client_id}")
    assert api_user.client_credentials().status_code == 200


def test_changing_redirect_uris_and_the_notification_address(app, developer):
    answer, _key = _register(developer)
    client_id = answer.headers["Location"].rsplit("/", 1)[1]
    developer.post_form(
        f"/registry/apps/{client_id}",
        {"name": "Qarjy 2", "redirect_uris": "https://qarjy.kz/new", "notification_uri": ""},
        f"/registry/apps/{client_id}",
    )
    client = _client(client_id)
    assert (client.name, client.redirect_uris, client.notification_uri) == (
        "Qarjy 2",
        ["https://qarjy.kz/new"],
        None,
    )


def test_a_viewer_sees_the_apps_but_may_not_register_or_change_them(app, developer):
    answer, _key = _register(developer)
    client_id = answer.headers["Location"].rsplit("/", 1)[1]
    viewer = joined(app, participant_id=developer_participant(developer), role="viewer", email="v@qarjy.kz")
    assert client_id in viewer.http.get("/registry/apps").get_data(as_text=True)
    refused, _key = _register(viewer)
    assert refused.status_code == 403
    assert (
        viewer.post_form(f"/registry/apps/{client_id}/disable", csrf_from="/registry/apps").status_code == 403
    )
    assert _client(client_id).disabled_at is None


def test_another_participants_app_is_not_found(app, developer):
    answer, _key = _register(developer)
    client_id = answer.headers["Location"].rsplit("/", 1)[1]
    stranger = joined(app, participant_id=bank().id, role="admin", email="admin@altyn.kz")
    assert stranger.http.get(f"/registry/apps/{client_id}").status_code == 404
    assert (
        stranger.post_form(f"/registry/apps/{client_id}/disable", csrf_from="/registry/apps").status_code
        == 404
    )
    assert client_id not in stranger.http.get("/registry/apps").get_data(as_text=True)
    assert _client(client_id).disabled_at is None


def test_a_bank_without_the_api_user_role_cannot_register_apps(app):
    admin = joined(app, participant_id=bank().id, role="admin", email="admin@altyn.kz")
    page = admin.http.get("/registry/apps").get_data(as_text=True)
    assert "not accredited as an API user" in page and "Register an application" not in page
    answer, _key = _register(admin)
    assert answer.status_code == 400 and "is not an API user" in answer.get_data(as_text=True)


def test_an_app_publishing_its_keys_is_registered_with_its_jwks_uri(app, developer):
    answer, _key = _register(developer, key_source="jwks_uri", jwks_uri="https://qarjy.kz/jwks.json")
    client_id = answer.headers["Location"].rsplit("/", 1)[1]
    client = _client(client_id)
    assert (client.jwks, client.jwks_uri) == (None, "https://qarjy.kz/jwks.json")
    assert re.search(
        r"publishes its keys at\s*<code>https://qarjy.kz/jwks.json",
        developer.http.get(f"/registry/apps/{client_id}").get_data(as_text=True),
    )


def test_an_app_logo_is_checked_reencoded_and_served_for_the_consent_screen(app, developer):
    import io

    from PIL import Image

    answer, _key = _register(developer)
    client_id = answer.headers["Location"].rsplit("/", 1)[1]
    image = io.BytesIO()
    Image.new("RGB", (48, 48), (11, 110, 79)).save(image, "JPEG")
    for upload, kept in ((b"<svg onload=alert(1)>", False), (image.getvalue(), True)):
        data = {
            "csrf_token": developer.csrf(f"/registry/apps/{client_id}"),
            "logo": (io.BytesIO(upload), "logo"),
        }
        developer.http.post(f"/registry/apps/{client_id}/logo", data=data, content_type="multipart/form-data")
        assert bool(_client(client_id).logo_png) is kept
    logo = app.test_client().get(f"/apps/{client_id}/logo.png")
    assert logo.status_code == 200 and logo.mimetype == "image/png" and logo.data.startswith(b"\x89PNG")
    assert app.test_client().get("/apps/nobody/logo.png").status_code == 404


def test_an_app_is_bound_to_an_mtls_certificate_in_the_cabinet(app, developer):
    from registry.certificate_authority import sign_csr
    from tests.registry.test_certificate_authority import _csr

    answer, _key = _register(developer)
    client_id = answer.headers["Location"].rsplit("/", 1)[1]
    certificate = sign_csr(developer_participant(developer), _csr(), "mtls")
    page = developer.http.get(f"/registry/apps/{client_id}").get_data(as_text=True)
    assert f'value="{certificate.serial}"' in page
    developer.post_form(
        f"/registry/apps/{client_id}/certificates",
        {"serials": [certificate.serial]},
        f"/registry/apps/{client_id}",
    )
    assert _client(client_id).bound_certificate_serials == [certificate.serial]
    developer.post_form(f"/registry/apps/{client_id}/certificates", {}, f"/registry/apps/{client_id}")
    assert _client(client_id).bound_certificate_serials is None
