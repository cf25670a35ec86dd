"""Metering: one ``routed_calls`` row per call the proxy answered once it knew the
API user (refusals included), for billing and reports. Written after the
answer is built, in a transaction of its own, so it never holds a lock
during the bank's call. Ids, statuses and times only: never account data,
tokens or the bank's answer."""

from __future__ import annotations

import time

from sqlalchemy import insert

from resource_proxy.checks import ProxyCall
from resource_proxy.models import RoutedCall
from senim import clock
from senim.database import core, db
from senim.metrics import record_proxied_call


def meter(call: ProxyCall, status: int, outcome: str) -> None:
    """Record the call (nothing when the API user is still unknown: nobody to bill).
    Every call is counted in the metrics, per bank (none before one is named and known)."""
    seconds = time.perf_counter() - call.started
    record_proxied_call(call.provider_id, status, outcome, seconds)
    if call.api_user_id is None:
        return
    core(
        insert(RoutedCall.__table__).values(
            at=int(clock.now() * 1000),
            api_user_id=call.api_user_id,
            client_id=call.client_id or "",
            provider_id=call.provider_id,
            api_id=call.api.id if call.api is not None else None,
            endpoint=call.endpoint.key,
            status=status,
            outcome=outcome[:64],
            latency_ms=max(0, round(seconds * 1000)),
            consent_id=call.consent.id if call.consent is not None else None,
            interaction_id=call.interaction_id,
        )
    )
    db.session.commit()
