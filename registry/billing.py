"""Billing: what API users owe API providers for the calls the proxy routed, period by period.

See docs/billing.md for the money and rounding rules. This module holds the
adjustments: corrections recorded with a reason (by an operator, or when a
dispute is resolved), which land on the next period closed — a closed period
never changes.
"""

from __future__ import annotations

import uuid

from registry.models import BillingAdjustment
from registry.participants import get_participant
from registry.tariffs import TariffError
from senim import clock
from senim.audit import audit
from senim.database import db

MAX_REASON = 500
#: An adjustment is at most this many tiyn either way (10 million tenge): anything above is a typing error.
MAX_ADJUSTMENT_TIYN = 10_000_000_00


class BillingError(TariffError):
    """A billing action cannot be done as asked; ``str(error)`` says why."""


def record_adjustment(
    *,
    api_user_id: str,
    provider_id: str,
    amount_tiyn: int,
    reason: str,
    actor: str,
    appeal_id: str | None = None,
) -> BillingAdjustment:
    """A correction (signed tiyn: negative credits the API user) for the next period closed.

    Added to the caller's session and flushed, not committed: a dispute's resolution and its
    adjustment are stored together or not at all."""
    if not isinstance(amount_tiyn, int) or isinstance(amount_tiyn, bool) or amount_tiyn == 0:
        raise BillingError("an adjustment is a whole, non-zero number of tiyn")
    if abs(amount_tiyn) > MAX_ADJUSTMENT_TIYN:
        raise BillingError("an adjustment is at most 10,000,000 tenge either way")
    reason = " ".join(reason.split()) if isinstance(reason, str) else ""
    if not reason or len(reason) > MAX_REASON:
        raise BillingError(f"an adjustment needs a reason (at most {MAX_REASON} characters)")
    if not isinstance(actor, str) or not 1 <= len(actor) <= 64:
        raise BillingError("who records it must be said")
    if api_user_id == provider_id:
        raise BillingError("an adjustment is between an API user and another participant, its provider")
    for participant_id in (api_user_id, provider_id):
        if get_participant(participant_id) is None:
            raise BillingError(f"no participant {participant_id}")
    adjustment = BillingAdjustment(
        id=str(uuid.uuid4()),
        api_user_id=api_user_id,
        provider_id=provider_id,
        amount_tiyn=amount_tiyn,
        reason=reason,
        appeal_id=appeal_id,
        recorded_by=actor,
        created_at=clock.now_int(),
    )
    db.session.add(adjustment)
    db.session.flush()
    audit(
        "billing.adjustment_recorded",
        adjustment_id=adjustment.id,
        api_user_id=api_user_id,
        provider_id=provider_id,
        amount_tiyn=amount_tiyn,
        appeal_id=appeal_id,
        by=actor,
    )
    return adjustment
