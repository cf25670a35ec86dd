"""The SMS one-time code: every refusal, and no code at rest or in logs."""

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import select

from idp import otp
from idp.sms import OutboxMessage, OutboxSmsSender, SmsDeliveryFailed
from senim.database import db

PHONE = "+77010000001"
IIN = "900101300001"


@pytest.fixture
def key(app) -> bytes:
    return otp.otp_key(app.extensions["senim.keyring"].server_secret)


def _code_sent_to(phone: str) -> str:
    message = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.phone == phone).order_by(OutboxMessage.id.desc())
    ).first()
    return next(word for word in message.text.split() if word.isdigit() and len(word) == 6)


def test_a_sent_code_is_accepted_once(app, key) -> None:
    sent = otp.send_code(IIN, PHONE, OutboxSmsSender(), key)
    code = _code_sent_to(PHONE)
    assert otp.verify_code(sent.challenge_id, code, key).subject == IIN
    with pytest.raises(otp.OtpUnknown):
        otp.verify_code(sent.challenge_id, code, key)


def test_the_code_is_stored_only_as_a_keyed_hash(app, key) -> None:
    sent = otp.send_code(IIN, PHONE, OutboxSmsSender(), key)
    code = _code_sent_to(PHONE)
    challenge = db.session.get(otp.OtpChallenge, sent.challenge_id)
    row = {c.name: getattr(challenge, c.name) for c in otp.OtpChallenge.__table__.columns}
    assert code not in json.dumps(row)
    assert len(challenge.code_hash) == 64


def test_an_expired_code_is_refused(app, key, clock) -> None:
    sent = otp.send_code(IIN, PHONE, OutboxSmsSender(), key)
    clock.advance(otp.CODE_TTL)
    with pytest.raises(otp.OtpExpired):
        otp.verify_code(sent.challenge_id, _code_sent_to(PHONE), key)


def test_five_wrong_codes_lock_the_challenge_even_for_the_right_code(app, key) -> None:
    sent = otp.send_code(IIN, PHONE, OutboxSmsSender(), key)
    code = _code_sent_to(PHONE)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for remaining in (4, 3, 2, 1):
        with pytest.raises(otp.OtpWrong) as refused:
            otp.verify_code(sent.challenge_id, wrong, key)
        assert refused.value.remaining == remaining
    with pytest.raises(otp.OtpTooManyAttempts):
        otp.verify_code(sent.challenge_id, wrong, key)
    with pytest.raises(otp.OtpTooManyAttempts):
        otp.verify_code(sent.challenge_id, code, key)


@pytest.mark.parametrize("garbage", ["", "12345", "1234567", "１２３４５６", "12 456", None])
def test_malformed_codes_count_as_wrong(app, key, garbage) -> None:
    sent = otp.send_code(IIN, PHONE, OutboxSmsSender(), key)
    with pytest.raises(otp.OtpWrong):
        otp.verify_code(sent.challenge_id, garbage, key)


def test_a_new_code_no_sooner_than_a_minute_and_it_replaces_the_old_one(app, key, clock) -> None:
    first = otp.send_code(IIN, PHONE, OutboxSmsSender(), key)
    first_code = _code_sent_to(PHONE)
    with pytest.raises(otp.OtpResendTooSoon) as too_soon:
        otp.send_code(IIN, PHONE, OutboxSmsSender(), key)
    assert too_soon.value.retry_after == 60
    clock.advance(60)
    second = otp.send_code(IIN, PHONE, OutboxSmsSender(), key)
    with pytest.raises(otp.OtpUnknown):
        otp.verify_code(first.challenge_id, first_code, key)
    otp.verify_code(second.challenge_id, _code_sent_to(PHONE), key)


def test_at_most_five_codes_an_hour_per_phone(app, key, clock) -> None:
    for i in range(otp.MAX_CODES_PER_PHONE_PER_HOUR):
        otp.send_code(f"{IIN[:-1]}{i}", PHONE, OutboxSmsSender(), key)
        clock.advance(61)
    with pytest.raises(otp.OtpPhoneRateLimited):
        otp.send_code("990101300009", PHONE, OutboxSmsSender(), key)
    clock.advance(3600)
    otp.send_code("990101300009", PHONE, OutboxSmsSender(), key)


def test_unknown_challenge_is_refused(app, key) -> None:
    with pytest.raises(otp.OtpUnknown):
        otp.verify_code("nope", "123456", key)


class _Failing:
    def send(self, phone: str, text: str) -> str:
        raise SmsDeliveryFailed("TwilioRestException")


def test_delivery_failure_leaves_no_usable_code_and_allows_a_retry(app, key) -> None:
    with pytest.raises(otp.OtpNotDelivered):
        otp.send_code(IIN, PHONE, _Failing(), key)
    assert db.session.scalar(select(otp.OtpChallenge)) is None
    otp.send_code(IIN, PHONE, OutboxSmsSender(), key)  # no resend delay after a failure


def test_codes_never_reach_the_audit_log(app, key) -> None:
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    handler = Collect()
    logging.getLogger("senim.audit").addHandler(handler)
    try:
        sent = otp.send_code(IIN, PHONE, OutboxSmsSender(), key)
        code = _code_sent_to(PHONE)
        with pytest.raises(otp.OtpWrong):
            otp.verify_code(sent.challenge_id, f"{(int(code) + 1) % 10**6:06d}", key)
        otp.verify_code(sent.challenge_id, code, key)
    finally:
        logging.getLogger("senim.audit").removeHandler(handler)
    assert lines and not any(code in line for line in lines)
    events = [json.loads(line)["event"] for line in lines]
    assert events == ["otp.sent", "otp.refused", "otp.verified"]
