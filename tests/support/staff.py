"""Staff in tests: invited, joined through the pages with a software passkey, signed in."""

from __future__ import annotations

import re
from dataclasses import dataclass

from registry.participants import API_PROVIDER, API_USER, add_participant
from registry.staff import OPERATOR, invite
from tests.support.passkey import Passkey

STAFF_ORIGIN = "http://senim.test"  # tests' issuer is http://senim.test
FINTECH_BIN = "150740000044"
BANK_BIN = "990140000017"


@dataclass
class Staff:
    """A signed-in staff member and the browser (test client) holding their session."""

    id: str
    email: str
    passkey: Passkey
    http: object

    def csrf(self, path: str = "/registry/security") -> str:
        page = self.http.get(path).get_data(as_text=True)
        return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)

    def post_json(self, path: str, body: dict | None = None, csrf_from: str = "/registry/security"):
        return self.http.post(path, json=body or {}, headers={"X-CSRFToken": self.csrf(csrf_from)})

    def post_form(self, path: str, data: dict | None = None, csrf_from: str = "/registry/security"):
        return self.http.post(path, data={"csrf_token": self.csrf(csrf_from), **(data or {})})

    def sign_in_with_passkey(self) -> None:
        """Sign in (or confirm it is you, when already signed in) with this member's passkey."""
        signed_in = self.http.get("/registry/security").status_code == 200
        csrf = self.csrf("/registry/security" if signed_in else "/registry/sign-in")
        headers = {"X-CSRFToken": csrf}
        options = self.http.post("/registry/sign-in/passkey/options", json={}, headers=headers).get_json()
        credential = self.passkey.get(options["publicKey"], STAFF_ORIGIN)
        finish = "/registry/confirm/passkey" if signed_in else "/registry/sign-in/passkey"
        answer = self.http.post(
            finish, json={"challenge_id": options["challenge_id"], "credential": credential}, headers=headers
        )
        assert answer.status_code == 200, answer.get_json()


def staff_browser(app):
    """A test client whose requests go to the staff pages' origin (not the test client's localhost),
    from a browser asking for English (the language the tests read)."""
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    open_ = client.open

    def open_at_staff_origin(*args: object, **kwargs: object):
        kwargs.setdefault("base_url", STAFF_ORIGIN)
        return open_(*args, **kwargs)

    client.open = open_at_staff_origin
    return client


def join(http, secret: str, name: str = "Aigerim Seitkali", passkey: Passkey | None = None):
    """Accept an invitation in ``http`` (a test client) with a new passkey; the answer and the passkey."""
    passkey = passkey or Passkey()
    page = http.get(f"/registry/join/{secret}").get_data(as_text=True)
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    headers = {"X-CSRFToken": csrf}
    options = http.post(f"/registry/join/{secret}/passkey/options", json={}, headers=headers).get_json()
    credential = passkey.create(options["publicKey"], STAFF_ORIGIN)
    answer = http.post(
        f"/registry/join/{secret}",
        json={"name": name, "challenge_id": options["challenge_id"], "credential": credential},
        headers=headers,
    )
    return answer, passkey


def joined(app, *, participant_id: str | None, role: str, email: str) -> Staff:
    """A staff member invited and joined in a fresh browser, signed in."""
    member, secret = invite(participant_id=participant_id, email=email, role=role, invited_by=None)
    http = staff_browser(app)
    answer, passkey = join(http, secret)
    assert answer.status_code == 200, answer.get_json()
    return Staff(id=member.id, email=member.email, passkey=passkey, http=http)


def operator(app, email: str = "operator@senim.kz") -> Staff:
    return joined(app, participant_id=None, role=OPERATOR, email=email)


def fintech(name: str = "Qarjy LLP", bin_: str = FINTECH_BIN):
    return add_participant(name=name, bin=bin_, roles=[API_USER])


def bank(name: str = "Altyn Bank", bin_: str = BANK_BIN):
    return add_participant(name=name, bin=bin_, roles=[API_PROVIDER])
