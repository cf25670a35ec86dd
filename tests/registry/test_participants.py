"""Participants: who may take part, in which role, and whether they may act now."""

from __future__ import annotations

import json
import logging
import uuid

import pytest

from biometrics.iin import iin_check_digit
from idp.clients import ClientRegistrationError
from registry.participants import (
    API_PROVIDER,
    API_USER,
    DuplicateParticipant,
    InvalidBIN,
    ParticipantBlocked,
    ParticipantError,
    UnknownParticipant,
    WrongRole,
    active_providers,
    add_participant,
    block_participant,
    get_participant,
    list_participants,
    require_active,
    unblock_participant,
    validate_bin,
)
from tests.conftest import register


def make_bin(first_eleven: str) -> str:
    return first_eleven + str(iin_check_digit(first_eleven))


BANK_BIN = make_bin("99014000001")  # 990140000017
OTHER_BANK_BIN = make_bin("99024000002")
FINTECH_BIN = make_bin("15074000004")
# Strings that are no participant's id: each must be "unknown", never a crash.
GARBAGE_IDS = [
    "",
    " ",
    "x",
    "1",
    "a" * 10_000,
    "\x00",
    "abc\x00def",
    "\ud800",
    "'; DROP TABLE participants; --",
    "%",
    "../../etc/passwd",
    "ЖСН",
    str(uuid.uuid4()),  # well-formed, but nobody's
    str(uuid.uuid4()).upper(),
    f" {uuid.uuid4()} ",
]


@pytest.fixture
def audit_lines():
    class Collect(logging.Handler):
        def __init__(self) -> None:
            super().__init__(logging.INFO)
            self.lines: list[str] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.lines.append(record.getMessage())

    logger = logging.getLogger("senim.audit")
    handler = Collect()
    logger.addHandler(handler)
    yield lambda: [json.loads(line) for line in handler.lines]
    logger.removeHandler(handler)


def bank(name: str = "Altyn Bank", bin_: str = BANK_BIN):
    return add_participant(name=name, bin=bin_, roles=[API_PROVIDER])


def fintech(name: str = "Fintech", bin_: str = FINTECH_BIN):
    return add_participant(name=name, bin=bin_, roles=[API_USER])


# -- the BIN -------------------------------------------------------------------------------
def test_a_valid_bin_is_accepted_without_surrounding_spaces() -> None:
    assert validate_bin(f"  {BANK_BIN}\n") == BANK_BIN


@pytest.mark.parametrize("type_digit", ["4", "5", "6"])
def test_the_three_kinds_of_entity_have_bins(type_digit: str) -> None:
    bin_ = make_bin(f"0512{type_digit}000001")
    assert validate_bin(bin_) == bin_


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("99014000001A", "digits only"),
        ("９９０１４０００００１７", "digits only"),  # full-width digits are not ASCII
        ("", "no BIN given"),
        ("   ", "no BIN given"),
        ("99014000001", "12 digits, this one has 11"),
        ("9901400000170", "12 digits, this one has 13"),
        ("9901 4000 0017", "digits only"),
        (None, "text of 12 digits"),
        (990140000017, "text of 12 digits"),
    ],
)
def test_a_bin_is_twelve_ascii_digits(text: object, reason: str) -> None:
    with pytest.raises(InvalidBIN, match=reason):
        validate_bin(text)


def test_an_iin_is_not_a_bin() -> None:
    # 900101300017 is a demo person's IIN: its 5th digit is part of a birth date.
    with pytest.raises(InvalidBIN, match=r"5th digit \(type of entity\) must be 4, 5 or 6, not 0"):
        validate_bin("900101300017")


def test_a_wrong_check_digit_is_refused() -> None:
    wrong = BANK_BIN[:11] + str((int(BANK_BIN[11]) + 1) % 10)
    with pytest.raises(InvalidBIN, match=f"BIN {wrong}: wrong check digit"):
        validate_bin(wrong)


def test_digits_without_any_check_digit_are_refused() -> None:
    first_eleven = next(
        f"0101400{serial:04d}" for serial in range(10_000) if _has_no_check_digit(f"0101400{serial:04d}")
    )
    with pytest.raises(InvalidBIN, match="no valid check digit exists"):
        validate_bin(first_eleven + "0")


def _has_no_check_digit(first_eleven: str) -> bool:
    try:
        iin_check_digit(first_eleven)
    except ValueError:
        return True
    return False


# -- adding ------------------------------------------------------------------------------------
def test_a_new_participant_is_active_and_audited(app, clock, audit_lines) -> None:
    participant = add_participant(name="  Altyn Bank  ", bin=f" {BANK_BIN} ", roles=[API_PROVIDER])
    assert uuid.UUID(participant.id).version == 4
    assert (participant.name, participant.bin, participant.roles) == ("Altyn Bank", BANK_BIN, [API_PROVIDER])
    assert participant.status == "active"
    assert participant.created_at == int(clock.now())
    assert (participant.status_changed_at, participant.status_reason) == (None, None)
    assert get_participant(participant.id) is participant
    [line] = [line for line in audit_lines() if line["event"] == "participant.added"]
    assert line["participant_id"] == participant.id
    assert line["roles"] == [API_PROVIDER]
    assert line["bin"] == BANK_BIN


def test_a_participant_may_have_both_roles_each_once(app) -> None:
    participant = add_participant(name="Bank", bin=BANK_BIN, roles=[API_USER, API_PROVIDER, API_USER])
    assert participant.roles == [API_USER, API_PROVIDER]
    assert require_active(participant.id, API_USER) is participant
    assert require_active(participant.id, API_PROVIDER) is participant


@pytest.mark.parametrize(
    ("roles", "reason"),
    [
        ([], "at least one role"),
        (["bank"], "unknown role bank"),
        ([API_USER, "admin"], "unknown role admin"),
        ("api_user", "must be a list"),
        ([API_USER, None], "must be a list"),
    ],
)
def test_roles_are_among_api_provider_and_api_user(app, roles: object, reason: str) -> None:
    with pytest.raises(ParticipantError, match=reason):
        add_participant(name="Bank", bin=BANK_BIN, roles=roles)
    assert list_participants() == []


@pytest.mark.parametrize("name", ["", "   ", "x" * 201, None])
def test_a_name_has_1_to_200_characters(app, name: object) -> None:
    with pytest.raises(ParticipantError, match="1 to 200 characters"):
        add_participant(name=name, bin=BANK_BIN, roles=[API_USER])


def test_an_invalid_bin_adds_nobody(app) -> None:
    with pytest.raises(InvalidBIN, match="wrong check digit"):
        add_participant(name="Bank", bin=BANK_BIN[:11] + "9", roles=[API_USER])
    assert list_participants() == []


def test_one_participant_per_bin(app) -> None:
    bank()
    with pytest.raises(DuplicateParticipant, match=f"BIN {BANK_BIN} is already registered"):
        add_participant(name="Another name", bin=BANK_BIN, roles=[API_USER])
    assert len(list_participants()) == 1


def test_participants_are_listed_by_name(app) -> None:
    nur = bank("Nur Bank", BANK_BIN)
    altyn = bank("Altyn Bank", OTHER_BANK_BIN)
    app_ = fintech("Dala Fintech")
    assert list_participants() == [altyn, app_, nur]


# -- may it act? ------------------------------------------------------------------------------------
def test_an_active_participant_with_the_role_may_act(app) -> None:
    participant = fintech()
    assert require_active(participant.id, API_USER) is participant


def test_an_unknown_participant_may_not_act(app) -> None:
    nobody = str(uuid.uuid4())
    with pytest.raises(UnknownParticipant, match=f"no participant {nobody}") as refusal:
        require_active(nobody, API_USER)
    assert refusal.value.participant_id == nobody


def test_a_bank_may_not_act_as_an_api_user(app) -> None:
    participant = bank()
    with pytest.raises(WrongRole, match=f"participant {participant.id} is not an API user") as refusal:
        require_active(participant.id, API_USER)
    assert refusal.value.participant_id == participant.id


def test_an_api_user_may_not_act_as_a_bank(app) -> None:
    participant = fintech()
    with pytest.raises(WrongRole, match=r"is not an API provider \(api_provider\); its roles: api_user"):
        require_active(participant.id, API_PROVIDER)


def test_a_blocked_participant_may_not_act(app) -> None:
    participant = fintech()
    block_participant(participant.id, "licence withdrawn")
    with pytest.raises(ParticipantBlocked, match=f"participant {participant.id} is blocked") as refusal:
        require_active(participant.id, API_USER)
    assert "licence" not in str(refusal.value)  # the reason stays with the operator


def test_asking_for_a_role_that_does_not_exist_is_a_programming_error(app) -> None:
    participant = fintech()
    with pytest.raises(ValueError, match="no role 'admin'") as refusal:
        require_active(participant.id, "admin")
    assert not isinstance(refusal.value, ParticipantError)


@pytest.mark.parametrize("garbage", GARBAGE_IDS, ids=[f"garbage-{i}" for i in range(len(GARBAGE_IDS))])
def test_any_string_that_is_no_id_is_an_unknown_participant(app, garbage: str) -> None:
    fintech()
    assert get_participant(garbage) is None
    with pytest.raises(UnknownParticipant):
        require_active(garbage, API_USER)
    with pytest.raises(UnknownParticipant):
        active_providers([garbage])
    with pytest.raises(UnknownParticipant):
        block_participant(garbage, "reason")
    with pytest.raises(UnknownParticipant):
        unblock_participant(garbage)


def test_get_participant_of_something_that_is_not_a_string_is_none(app) -> None:
    assert get_participant(None) is None
    assert get_participant(42) is None


# -- the banks a consent names ---------------------------------------------------------------------
def test_active_providers_come_back_in_the_order_asked(app) -> None:
    altyn = bank("Altyn Bank", BANK_BIN)
    dala = bank("Dala Bank", OTHER_BANK_BIN)
    assert active_providers([dala.id, altyn.id]) == [dala, altyn]
    assert active_providers([altyn.id, dala.id]) == [altyn, dala]


def test_active_providers_of_no_ids_are_none(app) -> None:
    assert active_providers([]) == []


def test_active_providers_refuse_an_unknown_bank_naming_it(app) -> None:
    altyn = bank()
    nobody = str(uuid.uuid4())
    with pytest.raises(UnknownParticipant, match=f"no participant {nobody}") as refusal:
        active_providers([altyn.id, nobody])
    assert refusal.value.participant_id == nobody


def test_active_providers_refuse_an_api_user_named_as_a_bank(app) -> None:
    altyn = bank()
    app_ = fintech()
    with pytest.raises(WrongRole, match=f"participant {app_.id} is not an API provider"):
        active_providers([altyn.id, app_.id])


def test_active_providers_refuse_a_blocked_bank(app) -> None:
    altyn = bank("Altyn Bank", BANK_BIN)
    dala = bank("Dala Bank", OTHER_BANK_BIN)
    block_participant(dala.id, "outage")
    with pytest.raises(ParticipantBlocked, match=f"participant {dala.id} is blocked"):
        active_providers([altyn.id, dala.id])


def test_active_providers_name_the_first_bad_bank(app) -> None:
    altyn = bank("Altyn Bank", BANK_BIN)
    dala = bank("Dala Bank", OTHER_BANK_BIN)
    block_participant(altyn.id, "outage")
    nobody = str(uuid.uuid4())
    with pytest.raises(ParticipantBlocked) as refusal:
        active_providers([dala.id, altyn.id, nobody])
    assert refusal.value.participant_id == altyn.id


# -- blocking ------------------------------------------------------------------------------------------
def test_block_and_unblock(app, clock, audit_lines) -> None:
    participant = bank()
    clock.advance(10)
    blocked = block_participant(participant.id, "  licence suspended  ")
    assert (blocked.status, blocked.status_reason) == ("blocked", "licence suspended")
    assert blocked.status_changed_at == int(clock.now())
    assert get_participant(participant.id).status == "blocked"

    clock.advance(10)
    unblocked = unblock_participant(participant.id)
    assert (unblocked.status, unblocked.status_reason) == ("active", None)
    assert unblocked.status_changed_at == int(clock.now())
    assert active_providers([participant.id]) == [participant]

    events = [line for line in audit_lines() if line["event"].startswith("participant.")]
    assert [e["event"] for e in events] == [
        "participant.added",
        "participant.blocked",
        "participant.unblocked",
    ]
    assert all(e["participant_id"] == participant.id for e in events)
    assert "licence" not in json.dumps(events)  # free text typed by an operator stays out of the log


def test_blocking_twice_keeps_the_first_block(app, clock) -> None:
    participant = bank()
    block_participant(participant.id, "first reason")
    first_at = participant.status_changed_at
    clock.advance(60)
    again = block_participant(participant.id, "second reason")
    assert (again.status, again.status_reason, again.status_changed_at) == (
        "blocked",
        "first reason",
        first_at,
    )


def test_unblocking_an_active_participant_changes_nothing(app) -> None:
    participant = bank()
    assert unblock_participant(participant.id).status_changed_at is None


@pytest.mark.parametrize("reason", ["", "   ", "x" * 201, None])
def test_a_block_needs_a_reason(app, reason: object) -> None:
    participant = bank()
    with pytest.raises(ParticipantError, match="reason for a block must have 1 to 200"):
        block_participant(participant.id, reason)
    assert get_participant(participant.id).status == "active"


def test_a_block_made_by_another_session_counts_at_once(app) -> None:
    from sqlalchemy import update

    from registry.models import Participant
    from senim.database import db

    participant = bank()
    assert require_active(participant.id, API_PROVIDER) is participant  # now in this session's identity map
    with db.engine.begin() as other:  # e.g. the operator's CLI, in another process
        other.execute(update(Participant).where(Participant.id == participant.id).values(status="blocked"))
    with pytest.raises(ParticipantBlocked):
        require_active(participant.id, API_PROVIDER)
    with pytest.raises(ParticipantBlocked):
        active_providers([participant.id])


# -- clients of API users -------------------------------------------------------------------------------
def test_a_client_may_belong_to_an_active_api_user(app) -> None:
    from sqlalchemy import select

    from idp.models import Client
    from senim.database import db

    participant = fintech()
    register(app, "app-of-fintech", participant_id=participant.id)
    client = db.session.scalar(select(Client).where(Client.client_id == "app-of-fintech"))
    assert client.participant_id == participant.id
    assert client.as_public_dict()["participant_id"] == participant.id


def test_a_client_without_a_participant_is_still_registered(app) -> None:
    register(app, "legacy-app")  # clients from before the registry


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: str(uuid.uuid4()), "no participant"),
        (lambda: "not-an-id", "no participant not-an-id"),
        (lambda: bank().id, "is not an API user"),
        (lambda: block_participant(fintech().id, "fraud").id, "is blocked"),
    ],
    ids=["unknown", "garbage", "a-bank", "blocked"],
)
def test_a_client_of_a_participant_that_may_not_act_is_refused(app, make, reason: str) -> None:
    participant_id = make()
    with pytest.raises(ClientRegistrationError, match=reason):
        register(app, "refused-app", participant_id=participant_id)
    assert get_participant(participant_id) is None or not _has_client(participant_id)


def _has_client(participant_id: str) -> bool:
    from sqlalchemy import select

    from idp.models import Client
    from senim.database import db

    return db.session.scalar(select(Client).where(Client.participant_id == participant_id)) is not None
