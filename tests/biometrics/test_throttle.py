"""Failed biometric attempts pause the IIN: 5 free, then 30 s doubling."""

from __future__ import annotations

import pytest

from biometrics.lockout import (
    TooManyFailures,
    check_not_throttled,
    delay_after,
    record_failure,
    record_success,
    throttle_state,
)

IIN = "900101300017"


def test_delays_double_after_five_failures() -> None:
    assert [delay_after(n) for n in range(1, 9)] == [0, 0, 0, 0, 30, 60, 120, 240]
    assert delay_after(60) == 24 * 3600


def test_five_failures_pause_the_iin_for_thirty_seconds(app, clock) -> None:
    for _ in range(4):
        record_failure(IIN)
        check_not_throttled(IIN)
    assert record_failure(IIN).locked_until == int(clock.now()) + 30
    with pytest.raises(TooManyFailures) as paused:
        check_not_throttled(IIN)
    assert paused.value.retry_after == 30
    clock.advance(30)
    check_not_throttled(IIN)
    record_failure(IIN)  # the sixth failure: a minute
    with pytest.raises(TooManyFailures) as paused:
        check_not_throttled(IIN)
    assert paused.value.retry_after == 60


def test_a_success_clears_the_count(app, clock) -> None:
    for _ in range(5):
        record_failure(IIN)
    clock.advance(30)
    record_success(IIN)
    assert throttle_state(IIN).consecutive_failures == 0
    record_failure(IIN)
    check_not_throttled(IIN)


def test_other_people_are_not_affected(app) -> None:
    for _ in range(5):
        record_failure(IIN)
    check_not_throttled("850202300014")
