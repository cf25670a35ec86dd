"""PAR (RFC 9126) and the authorize endpoint: what is refused, and why."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

from joserfc import jwt

from tests.support import flow


def _par_error(response, error: str = "invalid_request") -> str:
    body = response.get_json()
    assert response.status_code in (400, 401), body
    assert body["error"] == error, body
    return body["error_description"]


def _authorize(api_user, request_uri: str, **extra: str):
    return api_user.http.get(
        "/authorize",
        query_string={"client_id": api_user.client_id, "request_uri": request_uri, **extra},
        headers={"Accept": "application/json"},
    )


def test_par_returns_single_use_request_uri_with_short_lifetime(api_user) -> None:
    response = api_user.par()
    body = response.get_json()
    assert response.status_code == 201
    assert body["request_uri"].startswith("urn:ietf:params:oauth:request_uri:")
    assert 60 <= body["expires_in"] <= 90
    assert response.headers["Cache-Control"] == "no-store"


def test_par_without_pkce_is_refused(api_user) -> None:
    assert "PKCE" in _par_error(api_user.par(code_challenge=None, code_challenge_method=None))


def test_par_with_plain_pkce_is_refused(api_user) -> None:
    assert "PKCE" in _par_error(api_user.par(code_challenge_method="plain"))


def test_par_with_unregistered_redirect_uri_is_refused(api_user) -> None:
    assert "redirect_uri" in _par_error(api_user.par(redirect_uri="https://app.example/cb/other"))


def test_par_with_redirect_uri_differing_only_in_case_is_refused(api_user) -> None:
    _par_error(api_user.par(redirect_uri="https://APP.example/cb"))


def test_par_with_implicit_or_hybrid_response_type_is_refused(api_user) -> None:
    _par_error(api_user.par(response_type="token"), "unsupported_response_type")
    _par_error(api_user.par(response_type="code id_token"), "unsupported_response_type")


def test_par_with_request_uri_parameter_is_refused(api_user) -> None:
    _par_error(api_user.par(request_uri="urn:ietf:params:oauth:request_uri:x"))


def test_par_with_scope_the_client_may_not_ask_is_refused(api_user) -> None:
    _par_error(api_user.par(scope="openid payments"), "invalid_scope")


def test_par_with_unknown_authorization_details_type_is_refused(api_user) -> None:
    details = json.dumps([{"type": "payment_initiation", "amount": 1}])
    _par_error(api_user.par(authorization_details=details), "invalid_authorization_details")


def test_par_with_account_information_without_consent_id_is_refused(api_user) -> None:
    details = json.dumps([{"type": "account_information"}])
    _par_error(api_user.par(authorization_details=details), "invalid_authorization_details")


def test_par_with_malformed_authorization_details_is_refused(api_user) -> None:
    _par_error(api_user.par(authorization_details="{not json"), "invalid_authorization_details")


def test_par_with_client_id_of_another_client_is_refused(api_user) -> None:
    assert "client_id" in _par_error(api_user.par(client_id="app-2"))


def test_par_requires_client_authentication(api_user) -> None:
    _par_error(api_user.par(auth={"client_id": "app-1"}), "invalid_client")


def test_par_accepts_signed_request_object_and_uses_only_its_parameters(app, api_user) -> None:
    from tests.support.api_user import pkce_pair

    verifier, challenge = pkce_pair()
    now = int(api_user.now())
    claims = {
        "iss": "app-1",
        "aud": "http://senim.test",
        "exp": now + 60,
        "nbf": now,
        "jti": "ro-1",
        "client_id": "app-1",
        "response_type": "code",
        "redirect_uri": "https://app.example/cb",
        "scope": "openid",
        "state": "from-object",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    request_object = jwt.encode({"alg": "ES256", "kid": "k1"}, claims, api_user.key)
    data = {
        "client_id": "app-1",
        "request": request_object,
        "state": "outside-ignored",
        **api_user.client_auth(),
    }
    pushed = api_user.http.post("/par", data=data)
    assert pushed.status_code == 201, pushed.get_json()
    response = _authorize(api_user, pushed.get_json()["request_uri"])
    interaction_id = urlsplit(response.headers["Location"]).path.rsplit("/", 1)[-1]
    flow.finish(api_user, interaction_id, subject="c1")
    params = flow.resume(api_user, interaction_id)
    assert params["state"] == "from-object"
    assert api_user.exchange(params["code"], verifier=verifier).status_code == 200

    replay = api_user.push_request_object(request_object)
    _par_error(replay, "invalid_request_object")


def test_par_refuses_request_object_signed_by_another_key(api_user) -> None:
    from joserfc.jwk import ECKey

    now = int(api_user.now())
    claims = {
        "iss": "app-1",
        "aud": "http://senim.test",
        "exp": now + 60,
        "client_id": "app-1",
        "response_type": "code",
    }
    forged = jwt.encode({"alg": "ES256"}, claims, ECKey.generate_key("P-256"))
    response = api_user.push_request_object(forged)
    _par_error(response, "invalid_request_object")


def test_authorize_without_par_is_refused(api_user) -> None:
    response = api_user.http.get(
        "/authorize",
        query_string={
            "client_id": "app-1",
            "response_type": "code",
            "redirect_uri": "https://app.example/cb",
        },
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"
    assert "Location" not in response.headers


def test_authorize_with_parameters_outside_par_is_refused(api_user) -> None:
    request_uri = api_user.par().get_json()["request_uri"]
    response = _authorize(api_user, request_uri, redirect_uri="https://evil.example/cb")
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"
    assert "Location" not in response.headers


def test_authorize_with_unknown_request_uri_is_refused(api_user) -> None:
    response = _authorize(api_user, "urn:ietf:params:oauth:request_uri:nope")
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request_uri"


def test_authorize_with_expired_request_uri_is_refused(api_user, clock) -> None:
    request_uri = api_user.par().get_json()["request_uri"]
    clock.advance(61)
    response = _authorize(api_user, request_uri)
    assert response.get_json()["error"] == "invalid_request_uri"


def test_authorize_with_reused_request_uri_is_refused(api_user) -> None:
    request_uri = api_user.par().get_json()["request_uri"]
    assert _authorize(api_user, request_uri).status_code == 303
    second = _authorize(api_user, request_uri)
    assert second.status_code == 400
    assert second.get_json()["error"] == "invalid_request_uri"


def test_authorize_with_request_uri_of_another_client_is_refused(app, api_user) -> None:
    from tests.conftest import register

    register(app, client_id="app-2")
    request_uri = api_user.par().get_json()["request_uri"]
    response = api_user.http.get(
        "/authorize",
        query_string={"client_id": "app-2", "request_uri": request_uri},
        headers={"Accept": "application/json"},
    )
    assert response.get_json()["error"] == "invalid_request_uri"


def test_authorize_error_page_for_browsers_is_html(api_user) -> None:
    response = api_user.http.get(
        "/authorize", query_string={"client_id": "app-1"}, headers={"Accept": "text/html"}
    )
    assert response.status_code == 400
    assert "text/html" in response.headers["Content-Type"]
    page = response.get_data(as_text=True)
    assert "cannot continue" in page
    # styled by the server's own stylesheet: the page's CSP allows no inline style
    assert "<style" not in page
    stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)"', page).group(1)
    assert api_user.http.get(stylesheet).status_code == 200


def test_customer_rejection_redirects_with_access_denied_state_and_iss(api_user) -> None:
    params = flow.authorize(api_user, approved=False)
    assert params["error"] == "access_denied"
    assert params["state"] == api_user.state
    assert params["iss"] == "http://senim.test"
    assert "code" not in params


def test_resume_from_another_browser_is_refused(app, api_user) -> None:
    interaction_id = flow.start(api_user)
    flow.finish(api_user, interaction_id, subject="c1")
    other_browser = app.test_client()
    response = other_browser.get(
        f"/authorize/resume/{interaction_id}", headers={"Accept": "application/json"}
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"
    # the rightful browser still can
    assert "code" in flow.resume(api_user, interaction_id)


def test_resume_before_the_customer_finished_is_refused(api_user) -> None:
    interaction_id = flow.start(api_user)
    response = api_user.http.get(
        f"/authorize/resume/{interaction_id}", headers={"Accept": "application/json"}
    )
    assert response.status_code == 400


def test_resume_twice_is_refused(api_user) -> None:
    interaction_id = flow.start(api_user)
    flow.finish(api_user, interaction_id, subject="c1")
    flow.resume(api_user, interaction_id)
    again = api_user.http.get(f"/authorize/resume/{interaction_id}", headers={"Accept": "application/json"})
    assert again.status_code == 400


def test_expired_interaction_cannot_be_completed_or_resumed(api_user, clock) -> None:
    import pytest

    from idp.errors import InteractionInvalid

    interaction_id = flow.start(api_user)
    clock.advance(601)
    with pytest.raises(InteractionInvalid):
        flow.finish(api_user, interaction_id, subject="c1")


def test_another_browser_cannot_see_or_complete_the_interaction(app, api_user) -> None:
    """An attacker who starts a flow and sends the link to a victim gains nothing:
    the victim's browser lacks the binding cookie, so the login pages refuse it."""
    import pytest

    from idp.authorize import complete_interaction, pending_interaction
    from idp.errors import InteractionInvalid

    interaction_id = flow.start(api_user)
    for secret in (None, "forged-cookie-value"):
        with pytest.raises(InteractionInvalid):
            pending_interaction(interaction_id, secret)
        with pytest.raises(InteractionInvalid):
            complete_interaction(interaction_id, secret, subject="victim", approved=True)
    # the browser that started it still can
    _, params = pending_interaction(interaction_id, flow.browser_secret(api_user))
    assert params["client_id"] == "app-1"


def test_resume_replayed_with_the_same_cookie_is_refused(api_user) -> None:
    interaction_id = flow.start(api_user)
    secret = flow.browser_secret(api_user)
    flow.finish(api_user, interaction_id)
    flow.resume(api_user, interaction_id)
    api_user.http.set_cookie("senim_interaction", secret)
    again = api_user.http.get(f"/authorize/resume/{interaction_id}", headers={"Accept": "application/json"})
    assert again.status_code == 400
    assert again.get_json()["error"] == "invalid_request"


def test_resume_of_an_expired_interaction_is_refused(api_user, clock) -> None:
    interaction_id = flow.start(api_user)
    flow.finish(api_user, interaction_id)
    clock.advance(601)
    response = api_user.http.get(
        f"/authorize/resume/{interaction_id}", headers={"Accept": "application/json"}
    )
    assert response.status_code == 400


def test_authorize_accepts_post(api_user) -> None:
    request_uri = api_user.par().get_json()["request_uri"]
    response = api_user.http.post("/authorize", data={"client_id": "app-1", "request_uri": request_uri})
    assert response.status_code == 303
    assert "/interaction/" in response.headers["Location"]
