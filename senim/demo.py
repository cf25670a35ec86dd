"""Demo data for `make run`: three demo banks (API providers) and a demo
fintech (API user) in the registry, the fintech's client whose private key is
kept under the data directory, so scripts and the docs' examples can use it,
and two demo people in the reference registry (public-domain photos of
official White House portraits, in ``senim/demo_data/``)."""

from __future__ import annotations

import json
import os
from collections.abc import Generator, Iterator
from datetime import date
from pathlib import Path

from joserfc.jwk import ECKey
from sqlalchemy import select

from biometrics.iin import iin_check_digit, make_iin
from idp.clients import register_client, set_notification_uri
from idp.models import Client
from registry.apis import active_subscription, add_api, published_api, subscribe
from registry.models import Participant
from registry.participants import API_PROVIDER, API_USER, add_participant
from senim.audit import audit
from senim.database import db
from senim.keys import load_biometric_key
from senim.settings import Settings

DEMO_CLIENT_ID = "senim-demo-app"
#: What the consent screen and the cabinet call the demo client: Qarjy, the demo app (`demo_app/`).
DEMO_CLIENT_NAME = "Qarjy"
DEMO_REDIRECT_URI = "http://127.0.0.1:8001/callback"
#: The demo app (a separate process in `make run`): its callback and where it hears consent events.
DEMO_APP_REDIRECT_URI = "http://127.0.0.1:8080/callback"
DEMO_NOTIFICATION_URI = "http://127.0.0.1:8080/events"
#: Where each demo bank's reference bank serves the standard (`python -m reference_bank`), by BIN order.
DEMO_BANK_BASE_URLS = ("http://127.0.0.1:8101", "http://127.0.0.1:8102", "http://127.0.0.1:8103")
DEMO_DATA = Path(__file__).resolve().parent / "demo_data"


#: (IIN, full name, phone on record, reference photo in demo_data/); the IINs
#: are computed, so their check digits are right.
DEMO_PEOPLE = (
    (make_iin(date(1990, 1, 1)), "Demo Customer One", "+77010000001", "obama_1.jpg"),
    (make_iin(date(1985, 2, 2)), "Demo Customer Two", "+77010000002", "biden_2.jpg"),
)


def _demo_bin(first_eleven: str) -> str:
    """A BIN completed with its check digit (the digits are fixed: the demo is the same everywhere)."""
    return first_eleven + str(iin_check_digit(first_eleven))


#: (name, BIN) of the demo banks: resident legal entities (5th digit 4), head offices.
DEMO_BANKS = [
    ("Altyn Demo Bank", _demo_bin("99014000001")),
    ("Dala Demo Bank", _demo_bin("99024000002")),
    ("Nur Demo Bank", _demo_bin("99034000003")),
]
#: (name, BIN) of the demo API user, to which the demo client belongs.
DEMO_FINTECH = ("Senim Demo Fintech", _demo_bin("15074000004"))
#: (name, BIN) of a demo fintech that registered itself and is not accredited yet: a newcomer
#: applies for it (with the sample PDF the seed writes) and approves it as the demo operator.
DEMO_APPLICANT = ("Tenge Demo Fintech", _demo_bin("19084000005"))


#: (e-mail, name, role, BIN of their participant or None for the platform) of the demo staff:
#: they sign in at /registry with the code `senim demo staff-code EMAIL` prints.
DEMO_STAFF = (
    ("operator@senim.demo", "Demo Operator", "operator", None),
    ("regulator@senim.demo", "Demo Regulator", "regulator", None),
    ("admin@fintech.demo", "Fintech Admin", "admin", DEMO_FINTECH[1]),
    ("admin@altyn.demo", "Altyn Admin", "admin", DEMO_BANKS[0][1]),
    ("admin@tenge.demo", "Tenge Admin", "admin", DEMO_APPLICANT[1]),
)


def seed_demo(settings: Settings) -> Iterator[str]:
    fintech = yield from _seed_demo_participants()
    yield from _seed_demo_client(settings, fintech)
    yield from _seed_demo_apis()
    yield from _seed_demo_people(settings)
    yield from _seed_demo_applicant(settings)
    yield from _seed_demo_staff()
    from senim.demo_appeals import seed_demo_appeals
    from senim.demo_billing import seed_demo_billing

    yield from seed_demo_billing()
    yield from seed_demo_appeals()


def _seed_demo_applicant(settings: Settings) -> Iterator[str]:
    """A fintech that registered itself (not accredited), and a PDF to apply with."""
    from fpdf import FPDF

    from registry.participants import register_participant

    name, bin_ = DEMO_APPLICANT
    if db.session.scalar(select(Participant.id).where(Participant.bin == bin_)) is None:
        participant = register_participant(
            name=name,
            bin=bin_,
            contact_email="office@tenge.demo",
            contact_phone="+7 727 000 00 05",
            description="A demo fintech waiting to be accredited as an API user.",
        )
        yield f"demo participant registered (not accredited): {name} (BIN {bin_}, id {participant.id})"
    sample = settings.data_dir / "demo" / "charter-sample.pdf"
    if not sample.exists():
        sample.parent.mkdir(parents=True, exist_ok=True)
        pdf = FPDF()
        pdf.add_page()
        pdf.set_font("helvetica", size=14)
        pdf.cell(text=f"{name}: charter (a sample document for the accreditation demo)")
        pdf.output(str(sample))
        yield f"a sample PDF to apply for accreditation with: {sample}"


def _seed_demo_staff() -> Iterator[str]:
    """The demo operator and participant admins, active, with an authenticator app enrolled."""
    import pyotp

    from idp.staff_login import begin_totp_enrolment, confirm_totp_enrolment, totp_of
    from registry.staff import accept_invitation, invite, member_by_email

    for email, name, role, bin_ in DEMO_STAFF:
        member = member_by_email(email)
        if member is None:
            participant_id = None
            if bin_ is not None:
                participant_id = db.session.scalar(select(Participant.id).where(Participant.bin == bin_))
                if participant_id is None:
                    continue
            _invited, secret = invite(
                participant_id=participant_id, email=email, role=role, name=name, invited_by=None
            )
            member = accept_invitation(secret, name)
            yield f"demo staff added: {email} ({role})"
        else:
            yield f"demo staff present: {email} ({member.role}, {member.status})"
        if totp_of(member) is None:
            totp = pyotp.parse_uri(begin_totp_enrolment(member))
            confirm_totp_enrolment(member, totp.now())


def demo_bank_ids() -> list[str]:
    """The participant ids of the demo banks that are on record and active."""
    bins = [bin_ for _name, bin_ in DEMO_BANKS]
    banks = db.session.scalars(
        select(Participant).where(Participant.bin.in_(bins), Participant.status == "active")
    ).all()
    return [bank.id for bank in sorted(banks, key=lambda bank: bins.index(bank.bin))]


def _seed_demo_participants() -> Generator[str, None, str]:
    """The demo banks and fintech, by BIN; returns the fintech's participant id."""
    wanted = [(name, bin_, [API_PROVIDER]) for name, bin_ in DEMO_BANKS]
    wanted.append((*DEMO_FINTECH, [API_USER]))
    ids = {}
    for name, bin_, roles in wanted:
        participant = db.session.scalar(select(Participant).where(Participant.bin == bin_))
        if participant is not None:
            yield f"demo participant present: {participant.name} (BIN {bin_}, {participant.status})"
        else:
            participant = add_participant(name=name, bin=bin_, roles=roles)
            yield f"demo participant added: {name} (BIN {bin_}, {', '.join(roles)}, id {participant.id})"
        ids[bin_] = participant.id
    return ids[DEMO_FINTECH[1]]


def _seed_demo_client(settings: Settings, fintech_id: str) -> Iterator[str]:
    key_path = settings.data_dir / "demo" / "demo-app-private.jwk.json"
    client = db.session.scalar(select(Client).where(Client.client_id == DEMO_CLIENT_ID))
    if client is not None and client.participant_id is None:
        # Seeded before the registry existed: the client joins the demo fintech.
        client.participant_id = fintech_id
        db.session.commit()
        audit("client.participant_set", client_id=DEMO_CLIENT_ID, participant_id=fintech_id)
        yield f"demo client {DEMO_CLIENT_ID} now belongs to {DEMO_FINTECH[0]}"
    if client is not None:
        yield from _update_demo_client(client)
        yield f"demo data present (client {DEMO_CLIENT_ID}, key {key_path})"
        return
    key = ECKey.generate_key("P-256")
    private = key.as_dict(private=True)
    private.update({"kid": "demo-app-1", "alg": "ES256", "use": "sig"})
    key_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(private, fh)
    public = key.as_dict(private=False)
    public.update({"kid": "demo-app-1", "alg": "ES256", "use": "sig"})
    register_client(
        name=DEMO_CLIENT_NAME,
        jwks={"keys": [public]},
        redirect_uris=[DEMO_REDIRECT_URI, DEMO_APP_REDIRECT_URI],
        scope="openid accounts consents",
        grant_types=["authorization_code", "refresh_token", "client_credentials"],
        production=settings.production,
        client_id=DEMO_CLIENT_ID,
        participant_id=fintech_id,
        notification_uri=DEMO_NOTIFICATION_URI,
    )
    yield f"demo client {DEMO_CLIENT_ID} of {DEMO_FINTECH[0]} created; its private key is in {key_path}"


def _update_demo_client(client: Client) -> Iterator[str]:
    """A client seeded before the demo app existed gets its name, callback and event address."""
    if client.name == "Senim demo app":
        client.name = DEMO_CLIENT_NAME
        db.session.commit()
        yield f"demo client {DEMO_CLIENT_ID} is now called {DEMO_CLIENT_NAME}"
    if DEMO_APP_REDIRECT_URI not in (client.redirect_uris or []):
        client.redirect_uris = [*(client.redirect_uris or []), DEMO_APP_REDIRECT_URI]
        db.session.commit()
        audit("client.redirect_uri_added", client_id=DEMO_CLIENT_ID)
        yield f"demo client {DEMO_CLIENT_ID}: redirect URI {DEMO_APP_REDIRECT_URI} added"
    if client.notification_uri is None:
        set_notification_uri(DEMO_CLIENT_ID, DEMO_NOTIFICATION_URI, production=False)
        yield f"demo client {DEMO_CLIENT_ID}: consent events go to {DEMO_NOTIFICATION_URI}"


def _seed_demo_apis() -> Iterator[str]:
    """Each demo bank's API published at its reference bank's address; the demo client subscribed."""
    client = db.session.scalar(select(Client).where(Client.client_id == DEMO_CLIENT_ID))
    for (name, bin_), base_url in zip(DEMO_BANKS, DEMO_BANK_BASE_URLS, strict=True):
        bank = db.session.scalar(select(Participant).where(Participant.bin == bin_))
        if bank is None:
            continue
        api = published_api(bank.id)
        description = f"{name}: accounts, balances and transactions of its retail customers (reference bank)"
        if api is None:
            api = add_api(
                provider_id=bank.id,
                base_url=base_url,
                publish=True,
                sandbox_url=base_url,
                description=description,
            )
            yield f"demo API published: {name} at {base_url} (API {api.id})"
        else:
            yield f"demo API present: {name} at {api.base_url}"
            if api.sandbox_url is None:
                # Seeded before the sandbox existed: the reference bank is its own sandbox.
                api.sandbox_url, api.description = api.base_url, description
                api.next_check_due_at = int(api.published_at or 0)
                db.session.commit()
                yield f"demo API {name}: checked by `senim worker` against its reference bank"
        subscribable = client is not None and client.participant_id is not None
        if subscribable and active_subscription(api.id, DEMO_CLIENT_ID) is None:
            subscribe(api_id=api.id, client_id=DEMO_CLIENT_ID, participant_id=client.participant_id)
            yield f"demo client {DEMO_CLIENT_ID} subscribed to {name}'s API"


def _seed_demo_people(settings: Settings) -> Iterator[str]:
    from biometrics.phones import format_phone
    from biometrics.registry import LocalReferenceRegistry

    registry = LocalReferenceRegistry(load_biometric_key(settings.biometric_key, settings.key_dir))
    for iin, name, phone, photo in DEMO_PEOPLE:
        if registry.person(iin) is not None:
            yield f"demo person present: IIN {iin}, {name}, {format_phone(phone)}"
            continue
        registry.add_person(
            iin=iin, full_name=name, phone=phone, photo=(DEMO_DATA / photo).read_bytes(), source="demo"
        )
        yield f"demo person added: IIN {iin}, {name}, {format_phone(phone)}"


def demo_face_video(iin: str, poses: list[str], out: Path, *, seconds_per_pose: float = 1.0) -> Path:
    """A short clip of a demo person following ``poses``, for trying the login without a camera.

    The demo person's photo is made to turn its head (the synthetic genuine
    capture of the tests and the bench); the face page's "upload a video"
    fallback takes the clip. Only for the demo people, whose photos ship here.
    """
    import cv2
    import numpy as np

    from biometrics.liveness import synthetic as S
    from biometrics.liveness.challenge import Pose

    photos = {person_iin: photo for person_iin, _, _, photo in DEMO_PEOPLE}
    if iin not in photos:
        raise ValueError(f"{iin} is not one of the demo people ({', '.join(photos)})")
    asked = [Pose(pose) for pose in poses]  # ValueError for an unknown pose
    if out.suffix.lower() != ".mp4":
        raise ValueError("the clip is written as MP4: give a file name ending in .mp4")
    source = S.prepare_source(S.load_photo(DEMO_DATA / photos[iin]))
    rng = np.random.default_rng()
    fps = 10
    per_segment = max(3, round(seconds_per_pose * fps))
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, (S.FRAME_WIDTH, S.FRAME_HEIGHT))
    if not writer.isOpened():
        raise RuntimeError("OpenCV cannot write MP4 here")
    try:
        for pose in [None, *asked]:
            yaw, pitch = (0.0, 0.0) if pose is None else S.POSE_DIRECTIONS[pose]
            for _ in range(per_segment):
                wobble = rng.uniform(-1.5, 1.5, size=2)
                frame = S.render_head(source, 21.0 * yaw + wobble[0], 21.0 * pitch + wobble[1], rng)
                writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    return out
