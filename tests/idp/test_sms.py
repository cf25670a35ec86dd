"""SMS senders: the real twilio client against a local stub of Twilio's
Messages API, and the development outbox page."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import parse_qs

import pytest

from idp.sms import SmsDeliveryFailed, TwilioSmsSender

SID = "AC" + "0" * 32
TOKEN = "stub-auth-token"


class _TwilioStub(BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []
    fail_with: ClassVar[int | None] = None

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        type(self).received.append(
            {"path": self.path, "form": parse_qs(body), "authorization": self.headers.get("Authorization")}
        )
        if self.fail_with:
            payload = {"code": 21211, "message": "Invalid 'To' Phone Number", "status": self.fail_with}
            status = self.fail_with
        else:
            payload = {"sid": "SM" + "1" * 32, "status": "queued", "to": parse_qs(body)["To"][0], "body": "x"}
            status = 201
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def twilio_stub():
    _TwilioStub.received = []
    _TwilioStub.fail_with = None
    server = ThreadingHTTPServer(("127.0.0.1", 0), _TwilioStub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _TwilioStub
    server.shutdown()
    server.server_close()


def test_twilio_sender_posts_the_message_to_the_messages_api(twilio_stub) -> None:
    base, stub = twilio_stub
    sender = TwilioSmsSender(SID, TOKEN, "+15005550006", api_base=base)
    assert sender.send("+77010000001", "Senim: 123456 is your code.") == "SM" + "1" * 32
    (request,) = stub.received
    assert request["path"] == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert request["form"] == {
        "To": ["+77010000001"],
        "From": ["+15005550006"],
        "Body": ["Senim: 123456 is your code."],
    }
    assert request["authorization"] == "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()


def test_twilio_error_is_a_delivery_failure_without_the_message(twilio_stub) -> None:
    base, stub = twilio_stub
    stub.fail_with = 400
    sender = TwilioSmsSender(SID, TOKEN, "+15005550006", api_base=base)
    with pytest.raises(SmsDeliveryFailed) as failed:
        sender.send("+77010000001", "Senim: 123456 is your code.")
    assert "123456" not in str(failed.value)


def test_unreachable_twilio_is_a_delivery_failure() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sender = TwilioSmsSender(SID, TOKEN, "+15005550006", api_base=f"http://127.0.0.1:{port}")
    with pytest.raises(SmsDeliveryFailed):
        sender.send("+77010000001", "hello")


def test_settings_choose_the_sender(tmp_path) -> None:
    from idp.sms import OutboxSmsSender, sms_sender_from_settings
    from senim.settings import Settings, SettingsError

    assert isinstance(sms_sender_from_settings(Settings.from_env({})), OutboxSmsSender)
    env = {
        "SENIM_SMS_BACKEND": "twilio",
        "SENIM_TWILIO_ACCOUNT_SID": SID,
        "SENIM_TWILIO_AUTH_TOKEN": TOKEN,
        "SENIM_TWILIO_FROM": "+15005550006",
    }
    assert isinstance(sms_sender_from_settings(Settings.from_env(env)), TwilioSmsSender)
    with pytest.raises(SettingsError, match="SENIM_TWILIO_AUTH_TOKEN"):
        Settings.from_env(
            {"SENIM_SMS_BACKEND": "twilio", "SENIM_TWILIO_ACCOUNT_SID": SID, "SENIM_TWILIO_FROM": "+1"}
        )


def test_outbox_page_exists_only_in_development(app, tmp_path) -> None:
    from idp.sms import OutboxSmsSender
    from senim.app import create_app
    from senim.database import db
    from tests.conftest import make_settings

    assert app.test_client().get("/dev/sms").status_code == 404  # the test app runs as SENIM_ENV=test
    dev = create_app(
        make_settings(tmp_path, app.config["SQLALCHEMY_DATABASE_URI"], environment="development")
    )
    with dev.app_context():
        OutboxSmsSender().send("+77010000001", "Senim: 654321 is your code.")
        db.session.commit()
    page = dev.test_client().get("/dev/sms")
    assert page.status_code == 200
    assert "654321" in page.get_data(as_text=True)
