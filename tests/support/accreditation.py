"""Helpers of the accreditation tests: valid BINs, PDFs, participants at each step."""

from __future__ import annotations

import itertools

from biometrics.errors import InvalidIIN
from biometrics.iin import iin_check_digit
from registry import accreditation
from registry.accreditation import Document
from registry.participants import register_participant

_serials = itertools.count(1)
OPERATOR = "staff-operator-1"
APPLICANT = "staff-applicant-1"


def new_bin() -> str:
    """A valid BIN of a resident legal entity, different at each call."""
    while True:
        first = f"99014{next(_serials):06d}"
        try:
            return first + str(iin_check_digit(first))
        except InvalidIIN:
            continue


def pdf(text: str = "charter") -> Document:
    return Document(filename=f"{text}.pdf", content=b"%PDF-1.7\n% " + text.encode() + b"\n%%EOF\n")


def registered(name: str = "Qarjy LLP"):
    return register_participant(
        name=name,
        bin=new_bin(),
        contact_email="office@qarjy.kz",
        contact_phone="+7 701 234 56 78",
        description="Personal finance app",
    )


def accredited(roles: list[str], name: str = "Qarjy LLP"):
    """A self-registered participant taken through application, review and approval."""
    participant = registered(name)
    application = accreditation.apply(participant.id, roles, [pdf()], APPLICANT)
    accreditation.start_review(application.id, OPERATOR)
    _, certificate = accreditation.approve(application.id, OPERATOR)
    return participant, certificate
