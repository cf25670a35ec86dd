"""Connecting banks in Qarjy against a live Senim, over HTTP only (a requests session is the browser).

"Connect my accounts" makes a consent awaiting the customer and a pushed
request naming it; the customer signs in at Senim and approves; Qarjy checks
the answer (state, iss), exchanges the code with DPoP and keeps the tokens to
itself; refresh rotates them; "Disconnect" ends the consent at Senim and
deletes the data, and the platform's event that follows is accepted.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from idp.consents.models import Consent
from senim.database import db
from tests.interop.conftest import LiveServer
from tests.support.demo_app import (
    HTTP_TIMEOUT,
    QARJY_CLIENT_ID,
    Qarjy,
    browser,
    connect,
    form_token,
    sign_in_and_approve,
)


def _consent(live: LiveServer, consent_id: str) -> Consent:
    with live.app.app_context():
        consent = db.session.get(Consent, consent_id)
        db.session.expunge(consent)
        db.session.remove()
    return consent


def _deliver_events(live: LiveServer) -> dict:
    from idp.consents.notifications import deliver_all_due

    with live.app.app_context():
        done = deliver_all_due()
        db.session.remove()
    return {"delivered": done.delivered, "failed": done.failed}


def test_connect_makes_a_consent_and_a_pushed_request_naming_it(
    live_server: LiveServer, qarjy: Qarjy
) -> None:
    chosen = [qarjy.banks[0].id, qarjy.banks[2].id]
    with browser() as session:
        home = session.get(qarjy.base_url + "/", timeout=HTTP_TIMEOUT)
        assert "Connect my accounts" in home.text
        cookie = home.headers["Set-Cookie"]
        assert cookie.startswith("qarjy_session=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert all(bank.name in home.text for bank in qarjy.banks)
        answer = connect(session, qarjy, chosen)

    assert answer.status_code == 303
    location = answer.headers["Location"]
    assert location.startswith(f"{live_server.issuer}/authorize?")
    query = parse_qs(urlsplit(location).query)
    assert query["client_id"] == [QARJY_CLIENT_ID]
    assert query["request_uri"][0].startswith("urn:ietf:params:oauth:request_uri:")
    [pending] = _pending_consents(qarjy)
    consent = _consent(live_server, pending)
    assert consent.status == "AwaitingAuthorisation"
    assert consent.client_id == QARJY_CLIENT_ID
    assert sorted(consent.provider_ids) == sorted(chosen)
    assert set(consent.permissions) == {"ReadAccountsDetail", "ReadBalances", "ReadTransactionsDetail"}


def _pending_consents(qarjy: Qarjy) -> list[str]:
    import sqlite3

    with sqlite3.connect(qarjy.store.path) as db_:
        return [row[0] for row in db_.execute("SELECT consent_id FROM pending")]


def test_connect_without_a_bank_or_form_token_is_refused(qarjy: Qarjy) -> None:
    with browser() as session:
        none_chosen = connect(session, qarjy, [])
        forged = session.post(
            qarjy.base_url + "/connect", data={"bank": [qarjy.banks[0].id]}, timeout=HTTP_TIMEOUT
        )
    assert none_chosen.status_code == 400 and "Choose at least one bank" in none_chosen.text
    assert forged.status_code == 400
    assert _pending_consents(qarjy) == []


def test_the_whole_connection_over_http_then_refresh_and_disconnect(
    live_server: LiveServer, qarjy: Qarjy
) -> None:
    altyn, dala, nur = (bank.id for bank in qarjy.banks)
    with browser() as session:
        started = connect(session, qarjy, [altyn, dala, nur])
        [consent_id] = _pending_consents(qarjy)
        dashboard = sign_in_and_approve(
            session, live_server.app, live_server.issuer, started.headers["Location"], keep=[altyn, nur]
        )

        # Back at Qarjy: the redirect went through /callback to the dashboard.
        assert dashboard.status_code == 200, dashboard.text
        assert dashboard.url == f"{qarjy.base_url}/dashboard"
        assert any(r.url.startswith(f"{qarjy.base_url}/callback?") for r in dashboard.history)
        assert _consent(live_server, consent_id).status == "Authorised"
        connection = qarjy.store.connection(consent_id)
        assert connection is not None and connection.banks == [altyn, nur]  # the banks the customer kept
        assert "Altyn Demo Bank" in dashboard.text and "Nur Demo Bank" in dashboard.text
        assert "Dala Demo Bank" not in dashboard.text.split("Your consents")[0]
        held = qarjy.store.bank_data(consent_id)
        assert set(held) == {altyn, nur}  # each bank kept was read through the proxy, Dala not
        for bank in (altyn, nur):
            accounts = held[bank]["accounts"]
            assert accounts and all(a["balances"] and not a["errors"] for a in accounts), held[bank]
            assert any(a["transactions"] for a in accounts)
        iban = held[altyn]["accounts"][0]["account"]["Account"][0]["Identification"]
        assert iban.startswith("KZ") and " ".join(iban[i : i + 4] for i in range(0, 20, 4)) in dashboard.text
        assert "₸" in dashboard.text
        # The tokens stay on Qarjy's side: not in the page, not in the cookie.
        for secret in (connection.access_token, connection.refresh_token):
            assert secret not in dashboard.text
            assert all(secret not in (cookie.value or "") for cookie in session.cookies)

        # Refresh: the refresh token is used (rotated) and the banks read again.
        page = session.get(qarjy.base_url + "/dashboard", timeout=HTTP_TIMEOUT)
        refreshed = session.post(
            qarjy.base_url + "/refresh", data={"form_token": form_token(page.text)}, timeout=HTTP_TIMEOUT
        )
        assert refreshed.status_code == 200
        after = qarjy.store.connection(consent_id)
        assert after.refresh_token != connection.refresh_token
        assert after.access_token != connection.access_token

        # Disconnect: the consent ends at Senim and the data goes.
        disconnected = session.post(
            qarjy.base_url + "/disconnect",
            data={"form_token": form_token(refreshed.text), "consent_id": consent_id},
            timeout=HTTP_TIMEOUT,
        )
    assert disconnected.status_code == 200
    assert "We ended the consent in Senim and deleted the data" in disconnected.text
    assert "No accounts connected" in disconnected.text
    assert not qarjy.store.holds_anything_under(consent_id)
    assert _consent(live_server, consent_id).status == "Revoked"
    # The platform tells Qarjy (API_USER_ENDED); Qarjy accepts it though it holds nothing any more.
    assert _deliver_events(live_server) == {"delivered": 1, "failed": 0}


def test_a_withdrawal_in_the_cabinet_reaches_qarjy_which_deletes_the_data(
    live_server: LiveServer, qarjy: Qarjy
) -> None:
    from idp.consents.customer import revoke_by_customer
    from tests.support.customer import OBAMA_IIN

    with browser() as session:
        started = connect(session, qarjy, [qarjy.banks[0].id])
        [consent_id] = _pending_consents(qarjy)
        sign_in_and_approve(session, live_server.app, live_server.issuer, started.headers["Location"])
        assert qarjy.store.holds_anything_under(consent_id)

        with live_server.app.app_context():
            assert revoke_by_customer(db.session.get(Consent, consent_id), OBAMA_IIN)
            db.session.remove()
        assert _deliver_events(live_server) == {"delivered": 1, "failed": 0}

        page = session.get(qarjy.base_url + "/dashboard", timeout=HTTP_TIMEOUT)
    assert not qarjy.store.holds_anything_under(consent_id)
    assert "Your consent was revoked in Senim; we deleted your data." in page.text
    assert "No accounts connected" in page.text


def test_refresh_after_the_consent_ended_says_so_and_deletes_the_data(
    live_server: LiveServer, qarjy: Qarjy
) -> None:
    from idp.consents.customer import revoke_by_customer
    from tests.support.customer import OBAMA_IIN

    with browser() as session:
        started = connect(session, qarjy, [qarjy.banks[1].id])
        [consent_id] = _pending_consents(qarjy)
        page = sign_in_and_approve(session, live_server.app, live_server.issuer, started.headers["Location"])
        with live_server.app.app_context():
            revoke_by_customer(db.session.get(Consent, consent_id), OBAMA_IIN)
            db.session.remove()
        # The event is not delivered yet: the refresh finds out by itself.
        refreshed = session.post(
            qarjy.base_url + "/refresh", data={"form_token": form_token(page.text)}, timeout=HTTP_TIMEOUT
        )
    assert "Your consent has ended, so we deleted your data." in refreshed.text
    assert not qarjy.store.holds_anything_under(consent_id)


def test_an_answer_with_an_unknown_state_or_another_issuer_is_refused(
    live_server: LiveServer, qarjy: Qarjy
) -> None:
    with browser() as session:
        started = connect(session, qarjy, [qarjy.banks[0].id])
        [consent_id] = _pending_consents(qarjy)
        state = parse_qs(urlsplit(started.headers["Location"]).query)  # (the state is inside the PAR)
        assert "state" not in state
        unknown = session.get(
            qarjy.base_url + "/callback",
            params={"code": "x", "state": "not-ours", "iss": live_server.issuer},
            timeout=HTTP_TIMEOUT,
        )
        assert unknown.status_code == 400
        assert _pending_consents(qarjy) == [consent_id]  # a stranger's answer changes nothing

        import sqlite3

        with sqlite3.connect(qarjy.store.path) as db_:
            [(real_state,)] = db_.execute("SELECT state FROM pending").fetchall()
        mixed_up = session.get(
            qarjy.base_url + "/callback",
            params={"code": "x", "state": real_state, "iss": "https://evil.example"},
            timeout=HTTP_TIMEOUT,
        )
    assert mixed_up.status_code == 400 and "does not come from Senim" in mixed_up.text
    assert _pending_consents(qarjy) == []
    assert _consent(live_server, consent_id).status == "Rejected"  # the abandoned consent is ended


def test_a_customer_who_rejects_comes_back_to_a_plain_message(live_server: LiveServer, qarjy: Qarjy) -> None:
    with browser() as session:
        started = connect(session, qarjy, [qarjy.banks[0].id])
        [consent_id] = _pending_consents(qarjy)
        back = sign_in_and_approve(
            session, live_server.app, live_server.issuer, started.headers["Location"], decision="reject"
        )
    assert back.status_code == 400
    assert "You did not give the consent" in back.text
    assert not qarjy.store.holds_anything_under(consent_id)
