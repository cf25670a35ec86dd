"""APIs in the cabinet (submit through the sandbox, reports, re-check, unpublish), the showcase, connecting apps."""

from __future__ import annotations

import json

import pytest

from registry.apis import active_subscription, get_api
from registry.models import PUBLISHED, REFUSED, UNPUBLISHED
from tests.registry.conftest import answering, reference_bank, serve
from tests.support.staff import bank, fintech, joined, operator, staff_browser


@pytest.fixture
def provider_admin(app):
    return joined(app, participant_id=bank().id, role="admin", email="admin@altyn.kz")


def _participant_of(staff) -> str:
    from registry.staff import get_member

    return get_member(staff.id).participant_id


def _submit(staff, url: str, **fields):
    form = {"base_url": url, "sandbox_url": url, "description": "Accounts, balances, transactions"}
    form.update(fields)
    return staff.post_form("/registry/apis", form, "/registry/apis")


def test_a_provider_submits_a_conforming_api_and_sees_it_published_with_its_report(
    app, clock, provider_admin
):
    with serve(reference_bank(app, _participant_of(provider_admin), clock)) as url:
        answer = _submit(provider_admin, url)
        assert answer.status_code == 303
        api_id = answer.headers["Location"].rsplit("/", 1)[1]
        page = provider_admin.http.get(f"/registry/apis/{api_id}").get_data(as_text=True)
    assert get_api(api_id).status == PUBLISHED
    assert "Every check passed" in page and 'class="check-failed"' not in page
    assert page.count('class="check-passed"') >= 8
    listed = provider_admin.http.get("/registry/apis").get_data(as_text=True)
    assert api_id in listed and "Published" in listed


def test_a_broken_sandbox_is_refused_at_publication_with_the_failing_check_shown(app, provider_admin):
    with serve(answering("500 INTERNAL SERVER ERROR", {"error": "down"})) as url:
        answer = _submit(provider_admin, url)
        api_id = answer.headers["Location"].rsplit("/", 1)[1]
        page = provider_admin.http.get(f"/registry/apis/{api_id}").get_data(as_text=True)
    assert get_api(api_id).status == REFUSED
    assert "The sandbox failed a check" in page and 'class="check-failed"' in page
    showcase = staff_browser(app).get("/registry/showcase").get_data(as_text=True)
    assert api_id not in showcase


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"base_url": "http://bank.example/api"}, "https"),
        ({"description": ""}, "a description has 1 to 1000 characters"),
        ({"sandbox_customer_iin": "123"}, "the sandbox test customer"),
    ],
)
def test_a_wrong_submission_is_refused_with_the_reason(app, provider_admin, fields, says):
    answer = _submit(provider_admin, "https://sandbox.bank.example", **fields)
    assert answer.status_code == 400 and says in answer.get_data(as_text=True)
    assert "data-api-id" not in provider_admin.http.get("/registry/apis").get_data(as_text=True)


def test_an_api_user_without_the_provider_role_submits_nothing(app):
    admin = joined(app, participant_id=fintech().id, role="admin", email="admin@qarjy.kz")
    page = admin.http.get("/registry/apis").get_data(as_text=True)
    assert "not accredited as an API provider" in page and "Submit an API" not in page
    answer = _submit(admin, "https://sandbox.bank.example")
    assert answer.status_code == 400 and "is not an API provider" in answer.get_data(as_text=True)


def test_unpublish_then_publish_again_through_the_sandbox(app, clock, provider_admin):
    with serve(reference_bank(app, _participant_of(provider_admin), clock)) as url:
        api_id = _submit(provider_admin, url).headers["Location"].rsplit("/", 1)[1]
        provider_admin.post_form(f"/registry/apis/{api_id}/unpublish", csrf_from=f"/registry/apis/{api_id}")
        assert get_api(api_id).status == UNPUBLISHED
        provider_admin.post_form(f"/registry/apis/{api_id}/publish", csrf_from=f"/registry/apis/{api_id}")
    assert get_api(api_id).status == PUBLISHED


def test_another_providers_api_is_not_found_in_the_cabinet(app, clock, provider_admin):
    with serve(reference_bank(app, _participant_of(provider_admin), clock)) as url:
        api_id = _submit(provider_admin, url).headers["Location"].rsplit("/", 1)[1]
    other = joined(app, participant_id=bank("Dala Bank", "990240000080").id, role="admin", email="a@dala.kz")
    assert other.http.get(f"/registry/apis/{api_id}").status_code == 404
    assert (
        other.post_form(f"/registry/apis/{api_id}/unpublish", csrf_from="/registry/apis").status_code == 404
    )
    assert get_api(api_id).status == PUBLISHED


def test_the_showcase_lists_searches_and_documents_published_apis_and_an_api_user_connects(
    app, clock, provider_admin
):
    with serve(reference_bank(app, _participant_of(provider_admin), clock)) as url:
        api_id = _submit(provider_admin, url).headers["Location"].rsplit("/", 1)[1]
    visitor = staff_browser(app)
    listed = visitor.get("/registry/showcase").get_data(as_text=True)
    assert api_id in listed and "Altyn Bank" in listed and "checks passed in 24 h" in listed
    assert api_id not in visitor.get("/registry/showcase?q=nothing-like-this").get_data(as_text=True)
    assert api_id in visitor.get("/registry/showcase?q=altyn").get_data(as_text=True)
    details = visitor.get(f"/registry/showcase/{api_id}").get_data(as_text=True)
    assert "/accounts/{AccountId}/transactions" in details and "/registry/sign-in?next=" in details

    developer = joined(app, participant_id=fintech().id, role="developer", email="dev@qarjy.kz")
    from joserfc.jwk import ECKey

    from idp.clients import register_client
    from tests.support.api_user import public_jwks

    register_client(
        name="Qarjy",
        jwks=public_jwks(ECKey.generate_key("P-256")),
        redirect_uris=["https://qarjy.kz/cb"],
        scope="openid accounts consents",
        grant_types=["authorization_code", "refresh_token", "client_credentials"],
        client_id="qarjy-app",
        participant_id=_participant_of(developer),
    )
    page = developer.http.get(f"/registry/showcase/{api_id}").get_data(as_text=True)
    assert 'value="qarjy-app"' in page
    answer = developer.post_form(
        f"/registry/showcase/{api_id}/connect", {"client_id": "qarjy-app"}, f"/registry/showcase/{api_id}"
    )
    assert answer.headers["Location"] == "/registry/connected"
    assert active_subscription(api_id, "qarjy-app") is not None
    connected = developer.http.get("/registry/connected").get_data(as_text=True)
    assert f'data-api-id="{api_id}"' in connected
    developer.post_form(f"/registry/connected/{api_id}/qarjy-app/end", csrf_from="/registry/connected")
    assert active_subscription(api_id, "qarjy-app") is None


def test_only_the_api_users_own_apps_are_connected(app, clock, provider_admin):
    with serve(reference_bank(app, _participant_of(provider_admin), clock)) as url:
        api_id = _submit(provider_admin, url).headers["Location"].rsplit("/", 1)[1]
    developer = joined(app, participant_id=fintech().id, role="developer", email="dev@qarjy.kz")
    answer = developer.post_form(
        f"/registry/showcase/{api_id}/connect", {"client_id": "someone-elses"}, "/registry/showcase"
    )
    assert answer.status_code == 404
    viewer = joined(app, participant_id=_participant_of(developer), role="viewer", email="v@qarjy.kz")
    assert (
        viewer.post_form(
            f"/registry/showcase/{api_id}/connect", {"client_id": "x"}, "/registry/showcase"
        ).status_code
        == 403
    )


def test_operators_see_every_api_and_its_checks(app, clock, provider_admin):
    with serve(reference_bank(app, _participant_of(provider_admin), clock)) as url:
        api_id = _submit(provider_admin, url).headers["Location"].rsplit("/", 1)[1]
        staff = operator(app)
        listed = staff.http.get("/registry/apis").get_data(as_text=True)
        assert f'data-api-id="{api_id}"' in listed and "Altyn Bank" in listed
        staff.post_form(f"/registry/apis/{api_id}/recheck", csrf_from=f"/registry/apis/{api_id}")
    page = staff.http.get(f"/registry/apis/{api_id}").get_data(as_text=True)
    assert page.count('class="run-passed"') == 2


def test_the_showcase_is_public_json_too(app, clock, provider_admin):
    with serve(reference_bank(app, _participant_of(provider_admin), clock)) as url:
        api_id = _submit(provider_admin, url).headers["Location"].rsplit("/", 1)[1]
    entries = json.loads(app.test_client().get("/registry/v1/showcase").get_data())
    assert [e["id"] for e in entries.get("data", entries) if isinstance(e, dict)] == [
        api_id
    ] or api_id in json.dumps(entries)


def test_a_disabled_app_is_not_connected(app, clock, provider_admin):
    from joserfc.jwk import ECKey

    from idp.clients import register_client, set_client_disabled
    from tests.support.api_user import public_jwks

    with serve(reference_bank(app, _participant_of(provider_admin), clock)) as url:
        api_id = _submit(provider_admin, url).headers["Location"].rsplit("/", 1)[1]
    developer = joined(app, participant_id=fintech().id, role="developer", email="dev@qarjy.kz")
    register_client(
        name="Old app",
        jwks=public_jwks(ECKey.generate_key("P-256")),
        redirect_uris=["https://qarjy.kz/cb"],
        scope="openid accounts consents",
        grant_types=["authorization_code", "refresh_token", "client_credentials"],
        client_id="old-app",
        participant_id=_participant_of(developer),
    )
    set_client_disabled("old-app", True)
    answer = developer.post_form(
        f"/registry/showcase/{api_id}/connect", {"client_id": "old-app"}, "/registry/showcase"
    )
    assert answer.status_code == 404 and active_subscription(api_id, "old-app") is None


def test_another_api_users_connection_cannot_be_ended(app, clock, provider_admin):
    from joserfc.jwk import ECKey

    from idp.clients import register_client
    from registry.apis import subscribe
    from tests.support.api_user import public_jwks

    with serve(reference_bank(app, _participant_of(provider_admin), clock)) as url:
        api_id = _submit(provider_admin, url).headers["Location"].rsplit("/", 1)[1]
    owner = fintech()
    register_client(
        name="Qarjy",
        jwks=public_jwks(ECKey.generate_key("P-256")),
        redirect_uris=["https://qarjy.kz/cb"],
        scope="openid accounts consents",
        grant_types=["authorization_code", "refresh_token", "client_credentials"],
        client_id="qarjy-app",
        participant_id=owner.id,
    )
    subscribe(api_id=api_id, client_id="qarjy-app", participant_id=owner.id)
    stranger = joined(
        app, participant_id=fintech("Other LLP", "990240000080").id, role="admin", email="a@o.kz"
    )
    answer = stranger.post_form(
        f"/registry/connected/{api_id}/qarjy-app/end", csrf_from="/registry/connected"
    )
    assert answer.status_code == 404 and active_subscription(api_id, "qarjy-app") is not None
