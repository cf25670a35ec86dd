"""A customer going through the login pages over the Flask test client.

Everything goes through HTTP as a browser would: forms carry the CSRF token
read from the page, the face check uploads the frames the page's script
would, and the SMS code is read from the outbox where the platform put it.
"""

from __future__ import annotations

import html
import itertools
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
from sqlalchemy import select

from biometrics.liveness import Pose
from biometrics.liveness import synthetic as S
from biometrics.registry import LocalReferenceRegistry
from idp.sms import OutboxMessage
from senim.database import db
from tests.support.api_user import ApiUser

FACES = Path(__file__).resolve().parent.parent / "fixtures" / "faces"
OBAMA_IIN = "900101300017"
OBAMA_PHONE = "+77010000001"
BIDEN_IIN = "850202300014"
BIDEN_PHONE = "+77010000002"

#: Seeds whose genuine captures pass the face check for both demo people in every pose
#: sequence a challenge can ask (checked once over all 48); a test logs in at most four times.
_SEEDS = itertools.cycle((5, 100, 101, 102))
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_CHECKED_BOX = re.compile(r'<input type="checkbox" name="([^"]+)" value="([^"]+)" checked>')


@cache
def source(name: str) -> S.SourceFace:
    """A portrait composed into a 640×480 frame, ready to turn its head."""
    return S.prepare_source(S.load_photo(FACES / f"{name}_portrait.jpg"))


def put_on_record(app) -> LocalReferenceRegistry:
    """The two demo people, with their reference photos."""
    registry = app.extensions["senim.reference_registry"]
    registry.add_person(
        iin=OBAMA_IIN, full_name="Demo One", phone=OBAMA_PHONE, photo=(FACES / "obama_1.jpg").read_bytes()
    )
    registry.add_person(
        iin=BIDEN_IIN, full_name="Demo Two", phone=BIDEN_PHONE, photo=(FACES / "biden_2.jpg").read_bytes()
    )
    return registry


def csrf_token(page: str) -> str:
    match = _CSRF.search(page)
    assert match, "the page has no CSRF token"
    return html.unescape(match.group(1))


@dataclass
class FacePage:
    challenge_id: str
    poses: tuple[str, ...]
    csrf: str


def genuine_capture(poses: tuple[str, ...], who: str = "obama", seed: int = 5) -> list[bytes]:
    frames = S.genuine_frames(
        source(who), [Pose(p) for p in poses], np.random.default_rng(seed), amplitude=(20.0, 22.0)
    )
    return [S.encode_jpeg(frame) for frame in frames]


def flat_photo_capture(poses: tuple[str, ...], who: str = "obama", seed: int = 5) -> list[bytes]:
    frames = S.flat_photo_frames(source(who), [Pose(p) for p in poses], np.random.default_rng(seed))
    return [S.encode_jpeg(frame) for frame in frames]


def code_sent_to(phone: str) -> str:
    message = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.phone == phone).order_by(OutboxMessage.id.desc())
    ).first()
    assert message is not None, "no SMS was sent"
    return next(word for word in message.text.split() if word.isdigit() and len(word) == 6)


@dataclass
class Customer:
    """One browser (the API user's test client carries the binding cookie)."""

    api_user: ApiUser
    interaction_id: str = ""
    #: where the sign-in pages are: an interaction's, or a cabinet session's (``open_cabinet``)
    base: str = ""

    @property
    def http(self):
        return self.api_user.http

    def url(self, step: str = "") -> str:
        base = self.base or f"/interaction/{self.interaction_id}"
        return base + (f"/{step}" if step else "")

    def open_cabinet(self) -> str:
        """Open /cabinet and start signing in, as the cabinet's door page does; returns the first step."""
        door = self.http.get("/cabinet")
        assert door.status_code == 200, door.status_code
        started = self.http.post(
            "/cabinet/sign-in", data={"csrf_token": csrf_token(door.get_data(as_text=True))}
        )
        assert started.status_code == 303, started.status_code
        path = urlsplit(started.headers["Location"]).path
        self.base = path.rsplit("/", 1)[0]
        return path

    def arrive(self, **par_params: object) -> str:
        """PAR by the app, then /authorize in the browser; returns where the browser lands."""
        pushed = self.api_user.par(**par_params)
        assert pushed.status_code == 201, pushed.get_json()
        response = self.http.get(
            "/authorize",
            query_string={
                "client_id": self.api_user.client_id,
                "request_uri": pushed.get_json()["request_uri"],
            },
        )
        assert response.status_code == 303
        self.interaction_id = urlsplit(response.headers["Location"]).path.rsplit("/", 1)[-1]
        landing = self.http.get(urlsplit(response.headers["Location"]).path)
        assert landing.status_code == 303
        return urlsplit(landing.headers["Location"]).path

    def form(self, step: str, data: dict, page: str | None = None, **kwargs: object):
        """POST a form of ``step`` with the browser's CSRF token (read from a page, as a form carries it)."""
        token = csrf_token(page or self.http.get(self.url("identify")).get_data(as_text=True))
        return self.http.post(self.url(step), data={"csrf_token": token, **data}, **kwargs)

    def identify(self, identifier: str = OBAMA_IIN):
        return self.form("identify", {"identifier": identifier})

    def face_page(self) -> FacePage:
        page = self.http.get(self.url("face"))
        assert page.status_code == 200, page.status_code
        text = page.get_data(as_text=True)
        challenge_id = re.search(r'data-challenge-id="([^"]+)"', text).group(1)
        poses = tuple(re.findall(r'<li data-pose="(\w+)"', text))
        return FacePage(challenge_id, poses, csrf_token(text))

    def upload(self, face: FacePage, files: dict, *, as_script: bool = True, **form: str):
        """POST the face form: as the camera script does (JSON, CSRF header) or as the plain video form."""
        data = {"challenge_id": face.challenge_id, **form, **files}
        if as_script:
            headers = {"Accept": "application/json", "X-CSRFToken": face.csrf}
        else:
            headers, data["csrf_token"] = {}, face.csrf
        return self.http.post(
            self.url("face"), data=data, headers=headers, content_type="multipart/form-data"
        )

    def send_frames(self, face: FacePage, frames: list[bytes], challenge_id: str | None = None):
        from io import BytesIO

        files = {
            "frames": [(BytesIO(frame), f"frame{i}.jpg", "image/jpeg") for i, frame in enumerate(frames)]
        }
        form = {} if challenge_id is None else {"challenge_id": challenge_id}
        return self.upload(face, files, **form)

    def pass_face(self, who: str = "obama") -> None:
        face = self.face_page()
        # a live camera never sends the same pictures twice (a replay is refused)
        answer = self.send_frames(face, genuine_capture(face.poses, who, seed=next(_SEEDS)))
        assert answer.status_code == 200, answer.get_json()

    def enter_code(self, code: str):
        return self.form("otp", {"code": code})

    def log_in(self, iin: str = OBAMA_IIN, phone: str = OBAMA_PHONE, who: str = "obama") -> None:
        """Identify, face, code: the customer reaches the consent step."""
        assert self.identify(iin).status_code == 303
        self.pass_face(who)
        answer = self.enter_code(code_sent_to(phone))
        assert answer.status_code == 303, answer.get_data(as_text=True)
        assert answer.headers["Location"].endswith("/cabinet" if self.base else self.url("consent"))

    def decide(self, decision: str, keep: dict[str, list[str]] | None = None):
        """Approve or reject on the consent screen, keeping the banks ticked there (or ``keep``)."""
        page = self.http.get(self.url("consent")).get_data(as_text=True)
        fields: dict[str, list[str]] = {}
        for name, value in _CHECKED_BOX.findall(page):
            fields.setdefault(name, []).append(html.unescape(value))
        return self.form("consent", {"decision": decision, **fields, **(keep or {})}, page=page)
