"""Billing adjustments: a correction with its reason, for the next period closed; bad ones change nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from registry.billing import BillingError, record_adjustment
from registry.models import BillingAdjustment
from senim.database import db
from tests.support.staff import bank, fintech


@pytest.fixture
def parties(app):
    return fintech().id, bank().id


def _count() -> int:
    return db.session.scalar(select(func.count()).select_from(BillingAdjustment))


def test_an_adjustment_is_kept_with_its_reason_and_no_period_yet(parties, clock):
    api_user, provider = parties
    adjustment = record_adjustment(
        api_user_id=api_user,
        provider_id=provider,
        amount_tiyn=-1250,
        reason="  Refund of 1 call   answered twice ",
        actor="operator@senim.kz",
        appeal_id="a1",
    )
    db.session.commit()
    kept = db.session.get(BillingAdjustment, adjustment.id)
    assert (kept.amount_tiyn, kept.reason, kept.period, kept.appeal_id) == (
        -1250,
        "Refund of 1 call answered twice",
        None,
        "a1",
    )
    assert kept.created_at == int(clock.now())


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"amount_tiyn": 0}, "non-zero"),
        ({"amount_tiyn": 12.5}, "whole"),
        ({"amount_tiyn": True}, "whole"),
        ({"amount_tiyn": 10_000_000_01}, "at most"),
        ({"reason": "   "}, "needs a reason"),
        ({"reason": "x" * 501}, "needs a reason"),
        ({"actor": ""}, "who records it"),
        ({"provider_id": "00000000-0000-4000-8000-000000000000"}, "no participant"),
        ({"provider_id": "same"}, "another participant"),
    ],
)
def test_a_wrong_adjustment_is_refused_and_changes_nothing(parties, change, says):
    api_user, provider = parties
    fields = {
        "api_user_id": api_user,
        "provider_id": provider,
        "amount_tiyn": 500,
        "reason": "r",
        "actor": "op",
    }
    fields.update(change)
    if fields["provider_id"] == "same":
        fields["provider_id"] = api_user
    with pytest.raises(BillingError, match=says):
        record_adjustment(**fields)
    assert _count() == 0


@pytest.mark.parametrize(
    ("text", "tiyn"),
    [("-150.00", -15000), ("250000", 25_000_000), (" 3,5 ", 350), ("10000000", 10_000_000_00)],
)
def test_adjustments_are_read_in_signed_tenge_above_a_call_price_limit(text, tiyn):
    from registry.billing import parse_adjustment

    assert parse_adjustment(text) == tiyn
