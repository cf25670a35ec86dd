"""The customer's login pages over HTTP: identify, face, SMS code, consent step.

Each refusal is a test; each asserts that the refused step changed nothing
the customer could use.
"""

from __future__ import annotations

from io import BytesIO

import pytest
from joserfc import jwt
from sqlalchemy import select

from biometrics.lockout import throttle_state
from biometrics.models import BiometricChallenge
from idp.authorize import BROWSER_COOKIE
from idp.customer_login import CustomerLogin
from idp.models import Interaction
from idp.sms import SmsDeliveryFailed
from senim.database import db
from tests.support.customer import (
    BIDEN_IIN,
    OBAMA_IIN,
    OBAMA_PHONE,
    Customer,
    code_sent_to,
    flat_photo_capture,
    genuine_capture,
    put_on_record,
)
from tests.support.flow import query

ENGLISH = {"Accept-Language": "en"}


@pytest.fixture
def customer(app, api_user) -> Customer:
    put_on_record(app)
    api_user.http.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return Customer(api_user)


def _login(customer: Customer) -> CustomerLogin:
    db.session.expire_all()
    return db.session.get(CustomerLogin, customer.interaction_id)


def _text(response) -> str:
    return response.get_data(as_text=True)


# -- the whole journey ----------------------------------------------------------------------
def test_two_factors_then_approval_give_the_app_a_code_for_an_opaque_subject(app, customer) -> None:
    assert customer.arrive() == customer.url("identify")
    customer.log_in()
    consent = customer.http.get(customer.url("consent"))
    assert "Test app asks for your consent" in _text(consent)

    decided = customer.decide("approve")
    assert decided.status_code == 303
    assert decided.headers["Location"] == f"/authorize/resume/{customer.interaction_id}"
    redirect = customer.http.get(decided.headers["Location"])
    params = query(redirect.headers["Location"])
    assert redirect.headers["Location"].startswith("https://app.example/cb?")
    tokens = customer.api_user.exchange(params["code"]).get_json()

    keyset = app.extensions["senim.keyring"].verification_keyset()
    claims = jwt.decode(tokens["id_token"], keyset).claims
    assert claims["amr"] == ["face", "sms", "mfa"]
    assert claims["acr"] == "urn:senim:loa:2fa"
    assert OBAMA_IIN not in claims["sub"] and len(claims["sub"]) == 40


def test_login_hint_fills_in_the_identifier(customer) -> None:
    customer.arrive(login_hint=OBAMA_PHONE)
    page = customer.http.get(customer.url("identify"))
    assert f'value="{OBAMA_PHONE}"' in _text(page)


def test_the_customer_can_be_found_by_phone(customer) -> None:
    customer.arrive()
    answer = customer.identify("8 701 000 00 02")
    assert answer.headers["Location"].endswith(customer.url("face"))
    assert _login(customer).iin == BIDEN_IIN


# -- identify refusals ------------------------------------------------------------------------
@pytest.mark.parametrize("identifier", ["900101300018", "12345", "", "+1 202 555 0100", "<script>"])
def test_malformed_identifier_is_refused_with_a_clear_message(customer, identifier) -> None:
    customer.arrive()
    answer = customer.identify(identifier)
    assert answer.status_code == 400
    assert "Enter your IIN (12 digits) or your mobile number" in _text(answer)
    assert _login(customer).step == "identify"


def test_person_not_on_record_is_refused(customer) -> None:
    customer.arrive()
    answer = customer.identify("920315400010")  # a valid IIN nobody registered
    assert answer.status_code == 400
    assert "could not find this IIN" in _text(answer)
    assert _login(customer).iin is None


# -- steps cannot be skipped --------------------------------------------------------------------
@pytest.mark.parametrize("step", ["face", "otp", "consent"])
def test_a_later_page_before_identification_sends_the_customer_back(customer, step) -> None:
    customer.arrive()
    answer = customer.http.get(customer.url(step))
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith(customer.url("identify"))


def test_the_code_step_needs_the_face_check_first(customer) -> None:
    customer.arrive()
    customer.identify()
    page = customer.face_page()
    answer = customer.http.post(customer.url("otp"), data={"csrf_token": page.csrf, "code": "123456"})
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith(customer.url("face"))
    assert _login(customer).otp_passed_at is None


def test_approval_needs_both_factors(customer) -> None:
    customer.arrive()
    customer.identify()
    customer.pass_face()
    page = customer.http.get(customer.url("otp"))
    answer = customer.form("consent", {"decision": "approve"}, page=_text(page))
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith(customer.url("otp"))
    assert db.session.get(Interaction, customer.interaction_id).completed_at is None


def test_identifying_again_as_someone_else_voids_the_passed_face_check(customer) -> None:
    customer.arrive()
    customer.identify(OBAMA_IIN)
    customer.pass_face("obama")
    assert _login(customer).step == "otp"
    customer.identify(BIDEN_IIN)
    login = _login(customer)
    assert (login.iin, login.step) == (BIDEN_IIN, "face")
    # the code sent for the first person does not count for the second
    answer = customer.enter_code(code_sent_to(OBAMA_PHONE))
    assert answer.headers["Location"].endswith(customer.url("face"))


# -- face refusals ------------------------------------------------------------------------------
def test_a_flat_photo_is_refused_as_not_a_live_face(customer) -> None:
    customer.arrive()
    customer.identify()
    face = customer.face_page()
    answer = customer.send_frames(face, flat_photo_capture(face.poses))
    assert answer.status_code == 403
    body = answer.get_json()
    assert body["error"] == "face_refused"
    assert "flat_surface" in body["reasons"]
    assert "looks like a photo or a screen" in body["error_description"]
    assert _login(customer).step == "face"


def test_someone_elses_face_is_refused(customer) -> None:
    customer.arrive()
    customer.identify(OBAMA_IIN)
    face = customer.face_page()
    answer = customer.send_frames(face, genuine_capture(face.poses, who="biden"))
    assert answer.status_code == 403
    assert answer.get_json()["reasons"] == ["face_does_not_match"]
    assert _login(customer).face_passed_at is None


def test_an_earlier_challenge_cannot_be_answered_once_a_new_one_is_shown(customer) -> None:
    customer.arrive()
    customer.identify()
    first = customer.face_page()
    customer.face_page()  # reloading the page shows a new challenge
    answer = customer.send_frames(first, genuine_capture(first.poses))
    assert answer.status_code == 409
    assert answer.get_json()["reasons"] == ["face_challenge_unknown"]
    assert _login(customer).face_passed_at is None


@pytest.mark.parametrize("frames", [[], [b"x"] * 13])
def test_an_upload_without_frames_or_with_too_many_changes_nothing(customer, frames) -> None:
    customer.arrive()
    customer.identify()
    face = customer.face_page()
    answer = customer.send_frames(face, frames)
    assert answer.status_code == 400
    assert answer.get_json()["error"] in {"invalid_request", "too_many_frames"}
    challenge = db.session.get(BiometricChallenge, face.challenge_id)
    assert challenge.answered_at is None
    assert throttle_state(OBAMA_IIN).consecutive_failures == 0
    assert customer.send_frames(face, genuine_capture(face.poses)).status_code == 200


def test_frames_and_a_video_together_are_refused(customer) -> None:
    customer.arrive()
    customer.identify()
    face = customer.face_page()
    answer = customer.upload(face, {"frames": [(BytesIO(b"a"), "f.jpg")], "video": (BytesIO(b"b"), "v.webm")})
    assert answer.status_code == 400
    assert db.session.get(BiometricChallenge, face.challenge_id).answered_at is None


def test_after_five_failures_the_face_check_waits(customer) -> None:
    customer.arrive()
    customer.identify()
    for _ in range(5):
        face = customer.face_page()
        assert customer.send_frames(face, [b"not a picture"] * 3).status_code == 403
    page = customer.http.get(customer.url("face"))
    assert page.status_code == 429
    assert "Too many failed attempts" in _text(page)
    assert "data-challenge-id" not in _text(page)


def test_a_video_form_without_javascript_gets_pages_not_json(customer) -> None:
    customer.arrive()
    customer.identify()
    face = customer.face_page()
    answer = customer.upload(face, {"video": (BytesIO(b"no video"), "v.webm")}, as_script=False)
    assert answer.status_code == 403
    assert "We could not read the pictures or the video" in _text(answer)
    assert "data-challenge-id" in _text(answer)  # a new challenge to try again with


# -- code refusals --------------------------------------------------------------------------------
def test_the_code_is_sent_once_the_face_check_passes(customer) -> None:
    customer.arrive()
    customer.identify()
    customer.pass_face()
    page = customer.http.get(customer.url("otp"))
    assert "We sent a 6-digit code to +7 7** *** ** 01" in _text(page)
    assert code_sent_to(OBAMA_PHONE) not in _text(page)


def test_a_wrong_code_is_refused_and_the_tries_counted(customer) -> None:
    customer.arrive()
    customer.identify()
    customer.pass_face()
    right = code_sent_to(OBAMA_PHONE)
    wrong = "000000" if right != "000000" else "111111"
    answer = customer.enter_code(wrong)
    assert answer.status_code == 400
    assert "The code is not correct. Tries left: 4." in _text(answer)
    assert _login(customer).otp_passed_at is None
    assert customer.enter_code(right).status_code == 303


def test_a_new_code_no_sooner_than_a_minute(customer, clock) -> None:
    customer.arrive()
    customer.identify()
    customer.pass_face()
    first = code_sent_to(OBAMA_PHONE)
    answer = customer.form("otp/resend", {})
    assert answer.status_code == 429
    assert "wait before asking again" in _text(answer)
    clock.advance(61)
    assert customer.form("otp/resend", {}).status_code == 303
    assert customer.enter_code(first).status_code == 400  # the earlier code stopped working


def test_an_sms_that_could_not_be_sent_can_be_asked_for_again(app, customer) -> None:
    class Failing:
        def send(self, phone: str, text: str) -> str:
            raise SmsDeliveryFailed("ConnectionError")

    customer.arrive()
    customer.identify()
    real = app.extensions["senim.sms_sender"]
    app.extensions["senim.sms_sender"] = Failing()
    try:
        customer.pass_face()
    finally:
        app.extensions["senim.sms_sender"] = real
    page = customer.http.get(customer.url("otp"))
    assert "We could not send the SMS" in _text(page)
    assert customer.form("otp/resend", {}).status_code == 303
    assert customer.enter_code(code_sent_to(OBAMA_PHONE)).status_code == 303


# -- the consent step and leaving ----------------------------------------------------------------
def test_rejecting_gives_the_app_access_denied(customer) -> None:
    customer.arrive(state="s-1")
    customer.log_in()
    decided = customer.decide("reject")
    params = query(customer.http.get(decided.headers["Location"]).headers["Location"])
    assert params["error"] == "access_denied" and params["state"] == "s-1"
    assert "code" not in params


def test_an_unknown_decision_changes_nothing(customer) -> None:
    customer.arrive()
    customer.log_in()
    assert customer.decide("maybe").status_code == 400
    assert db.session.get(Interaction, customer.interaction_id).completed_at is None


def test_cancelling_at_any_step_gives_the_app_access_denied(customer) -> None:
    customer.arrive()
    cancelled = customer.form("cancel", {}, page=_text(customer.http.get(customer.url("identify"))))
    params = query(customer.http.get(cancelled.headers["Location"]).headers["Location"])
    assert params["error"] == "access_denied"


# -- the rules of every page ------------------------------------------------------------------------
def test_a_form_without_its_csrf_token_is_refused(customer) -> None:
    customer.arrive()
    answer = customer.http.post(customer.url("identify"), data={"identifier": OBAMA_IIN})
    assert answer.status_code == 400
    assert "This page has expired" in _text(answer)
    assert _login(customer).iin is None


def test_another_browser_cannot_open_the_login(app, customer) -> None:
    customer.arrive()
    other = app.test_client()
    answer = other.get(customer.url("identify"), headers=ENGLISH)
    assert answer.status_code == 400
    assert "This sign-in cannot continue" in _text(answer)
    other.set_cookie(BROWSER_COOKIE, "guessed", domain="localhost")
    assert other.get(customer.url("face"), headers=ENGLISH).status_code == 400


def test_a_finished_login_cannot_be_used_again(customer) -> None:
    customer.arrive()
    customer.log_in()
    customer.decide("approve")
    assert customer.http.get(customer.url("consent")).status_code == 400


def test_identification_is_limited_per_address(customer) -> None:
    customer.arrive()
    page = _text(customer.http.get(customer.url("identify")))
    statuses = [customer.form("identify", {"identifier": "1"}, page=page).status_code for _ in range(11)]
    assert statuses[:10] == [400] * 10
    assert statuses[10] == 429
    assert "Too many attempts from this network" in _text(customer.form("identify", {}, page=page))


def test_pages_are_never_framed_and_run_only_their_own_scripts(customer) -> None:
    customer.arrive()
    customer.identify()
    page = customer.http.get(customer.url("face"))
    policy = page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "form-action 'self' https://app.example" in policy
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("language", "words"),
    [("kk", "Сіз кімсіз"), ("ru", "Кто вы"), ("en", "Who you are")],
)
def test_the_pages_speak_the_browsers_language(customer, language, words) -> None:
    customer.arrive()
    page = customer.http.get(customer.url("identify"), headers={"Accept-Language": language})
    assert f'<html lang="{language}">' in _text(page)
    assert words in _text(page)


def test_the_language_can_be_switched_and_is_remembered(customer) -> None:
    customer.arrive()
    switched = customer.http.get(customer.url("identify") + "?lang=kk")
    assert '<html lang="kk">' in _text(switched)
    again = customer.http.get(customer.url("identify"))  # Accept-Language still says en
    assert '<html lang="kk">' in _text(again)


def test_the_login_never_logs_codes_faces_or_names(app, customer) -> None:
    import logging

    lines: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Capture()
    logging.getLogger("senim.audit").addHandler(handler)
    try:
        customer.arrive()
        customer.log_in()
    finally:
        logging.getLogger("senim.audit").removeHandler(handler)
    logged = "\n".join(lines)
    assert "login.authenticated" in logged
    assert code_sent_to(OBAMA_PHONE) not in logged
    assert "Demo One" not in logged
    assert OBAMA_PHONE not in logged


def test_the_page_state_is_kept_per_interaction(customer) -> None:
    customer.arrive()
    customer.identify()
    assert db.session.scalars(select(CustomerLogin)).one().interaction_id == customer.interaction_id


def test_a_video_of_the_asked_poses_passes_through_the_upload_fallback(customer, tmp_path) -> None:
    from senim.demo import demo_face_video

    customer.arrive()
    customer.identify(OBAMA_IIN)
    face = customer.face_page()
    clip = demo_face_video(OBAMA_IIN, list(face.poses), tmp_path / "clip.mp4")
    answer = customer.upload(face, {"video": (clip.open("rb"), "clip.mp4")}, as_script=False)
    assert answer.status_code == 303, _text(answer)
    assert answer.headers["Location"].endswith(customer.url("otp"))
    assert _login(customer).step == "otp"


def test_a_face_check_finishing_after_the_customer_identified_as_someone_else_counts_for_nobody(
    app, customer
) -> None:
    """Two requests on one login: the face check of A is still running when the browser identifies as B."""
    from sqlalchemy import update

    from idp import customer_login as steps

    customer.arrive()
    customer.identify(OBAMA_IIN)
    face = customer.face_page()
    login = _login(customer)  # what the face request read
    # meanwhile, another request of the same browser identifies as someone else
    db.session.execute(
        update(CustomerLogin)
        .where(CustomerLogin.interaction_id == customer.interaction_id)
        .values(iin=BIDEN_IIN, phone="+77010000002", version=CustomerLogin.version + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    with pytest.raises(steps.StepOutOfOrder):
        steps.finish_face(
            login, face.challenge_id, genuine_capture(face.poses), app.extensions["senim.reference_registry"]
        )
    now = _login(customer)
    assert (now.iin, now.face_passed_at, now.step) == (BIDEN_IIN, None, "face")


def test_a_clip_larger_than_the_app_wide_limit_reaches_the_face_check(customer) -> None:
    customer.arrive()
    customer.identify()
    face = customer.face_page()
    answer = customer.upload(face, {"video": (BytesIO(b"\0" * 1_500_000), "clip.webm")})
    assert answer.status_code == 403
    assert answer.get_json()["reasons"] == ["unreadable_capture"]


def test_an_upload_over_the_clip_limit_is_refused_before_the_check(customer) -> None:
    customer.arrive()
    customer.identify()
    face = customer.face_page()
    answer = customer.upload(face, {"video": (BytesIO(b"\0" * 13_000_000), "clip.webm")})
    assert answer.status_code == 413
    assert answer.get_json()["error"] == "capture_too_large"
    assert db.session.get(BiometricChallenge, face.challenge_id).answered_at is None


def test_approval_checks_whose_factors_were_passed(customer) -> None:
    from sqlalchemy import update

    customer.arrive()
    customer.log_in()
    db.session.execute(update(BiometricChallenge).values(iin=BIDEN_IIN))  # a face check of someone else
    db.session.commit()
    answer = customer.decide("approve")
    assert answer.status_code == 303 and "/resume/" not in answer.headers["Location"]
    assert db.session.get(Interaction, customer.interaction_id).completed_at is None


@pytest.mark.parametrize(
    ("remote", "counted_as"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
    ],
)
def test_limits_count_ipv6_clients_by_their_64(app, remote, counted_as) -> None:
    from consent_ui import client_network

    with app.test_request_context("/", environ_base={"REMOTE_ADDR": remote}):
        assert client_network() == counted_as


@pytest.mark.parametrize(
    ("uri", "source"),
    [
        ("https://app.example/cb", "https://app.example"),
        ("https://user:pw@app.example:8443/cb?x=1", "https://app.example:8443"),
        ("http://127.0.0.1:8001/callback", "http://127.0.0.1:8001"),
        ("kz.bank.app:/oauth2redirect", "kz.bank.app:"),
    ],
)
def test_the_form_action_source_is_the_redirect_origin_only(uri, source) -> None:
    from consent_ui.login_pages import _csp_origin

    assert _csp_origin(uri) == source


# -- the consent named by the request ----------------------------------------------------------
def _awaiting_consent(customer: Customer, clock) -> str:
    import json

    from tests.support.consents import add_banks, consent_body

    api_user = customer.api_user
    created = api_user.call(
        "POST", "/consents", api_user.consents_token(), json=consent_body(clock.now(), add_banks(2))
    )
    consent_id = created.get_json()["Data"]["ConsentId"]
    customer.arrive(
        authorization_details=json.dumps([{"type": "account_information", "consent_id": consent_id}])
    )
    return consent_id


def test_approval_authorises_the_consent_for_this_customer_and_the_token_names_it(
    app, customer, clock
) -> None:
    from idp.consents.models import Consent

    consent_id = _awaiting_consent(customer, clock)
    customer.log_in()
    decided = customer.decide("approve")
    params = query(customer.http.get(decided.headers["Location"]).headers["Location"])
    consent = db.session.get(Consent, consent_id)
    assert (consent.status, consent.customer_iin) == ("Authorised", OBAMA_IIN)
    assert consent.authorised_provider_ids == consent.provider_ids
    tokens = customer.api_user.exchange(params["code"]).get_json()
    [detail] = tokens["authorization_details"]
    assert detail["consent_id"] == consent_id
    assert detail["permissions"] == ["ReadAccountsBasic", "ReadBalances"]
    assert detail["provider_ids"] == consent.provider_ids


def test_rejection_rejects_the_consent(customer, clock) -> None:
    from idp.consents.lifecycle import history
    from idp.consents.models import Consent

    consent_id = _awaiting_consent(customer, clock)
    customer.log_in()
    customer.decide("reject")
    consent = db.session.get(Consent, consent_id)
    assert consent.status == "Rejected" and consent.customer_iin is None
    last = history(consent_id)[-1]
    assert (last.actor, last.reason) == ("customer", "CUSTOMER_REJECTED")


def test_a_consent_ended_while_the_customer_logged_in_cannot_be_approved(customer, clock) -> None:
    from idp.consents.models import Consent

    consent_id = _awaiting_consent(customer, clock)
    customer.log_in()
    api_user = customer.api_user
    api_user.call("DELETE", f"/consents/{consent_id}", api_user.consents_token())
    answer = customer.decide("approve")
    assert answer.status_code == 409
    assert "can no longer be given" in _text(answer)
    assert db.session.get(Consent, consent_id).status == "Rejected"
    assert db.session.get(Interaction, customer.interaction_id).completed_at is None
