"""The browser's part of the code flow, with the customer's interaction
completed through the service layer (its pages come with their issues)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from idp.authorize import BROWSER_COOKIE, complete_interaction
from tests.support.api_user import ApiUser


def query(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def start(api_user: ApiUser, **par_params: object) -> str:
    """PAR, then /authorize; returns the interaction id the browser was handed to."""
    pushed = api_user.par(**par_params)
    assert pushed.status_code == 201, pushed.get_json()
    response = api_user.http.get(
        "/authorize",
        query_string={"client_id": api_user.client_id, "request_uri": pushed.get_json()["request_uri"]},
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    return urlsplit(response.headers["Location"]).path.rsplit("/", 1)[-1]


def resume(api_user: ApiUser, interaction_id: str) -> dict[str, str]:
    response = api_user.http.get(f"/authorize/resume/{interaction_id}")
    assert response.status_code == 303, response.get_data(as_text=True)
    return query(response.headers["Location"])


def browser_secret(api_user: ApiUser) -> str | None:
    """The binding cookie /authorize gave this browser."""
    cookie = api_user.http.get_cookie(BROWSER_COOKIE)
    return cookie.value if cookie else None


def finish(
    api_user: ApiUser, interaction_id: str, subject: str = "customer-1", approved: bool = True
) -> None:
    """What the login and consent pages do once the customer has decided."""
    complete_interaction(
        interaction_id,
        browser_secret(api_user),
        subject=subject,
        approved=approved,
        acr="urn:senim:loa:2fa",
        amr=["face", "sms"],
    )


def authorize(
    api_user: ApiUser, subject: str = "customer-1", approved: bool = True, **par_params: object
) -> dict:
    """The whole front channel; returns the authorization response parameters."""
    interaction_id = start(api_user, **par_params)
    finish(api_user, interaction_id, subject=subject, approved=approved)
    return resume(api_user, interaction_id)


def tokens(api_user: ApiUser, **par_params: object) -> dict:
    """A customer's tokens, through PAR, authorize, interaction and the token endpoint."""
    params = authorize(api_user, **par_params)
    response = api_user.exchange(params["code"])
    assert response.status_code == 200, response.get_json()
    return response.get_json()
