"""The retry policy (the authorizer's tokens: test_auth_oidc.py)."""

from __future__ import annotations

from chat.retry import RetryPolicy


def test_full_jitter_backoff_is_bounded_by_exponential_cap() -> None:
    policy = RetryPolicy(base_ms=50, cap_ms=400, max_attempts=10)
    highest = lambda low, high: high  # noqa: E731
    assert [policy.backoff_ms(n, highest) for n in range(1, 7)] == [50, 100, 200, 400, 400, 400]
    assert policy.backoff_ms(3, lambda low, high: low) == 0  # full jitter reaches down to zero


def test_retries_stop_at_attempts_and_deadline() -> None:
    policy = RetryPolicy(base_ms=100, cap_ms=1000, max_attempts=3)
    rand = lambda low, high: high  # noqa: E731
    assert policy.next_delay_ms(1, deadline=10.0, clock=lambda: 0.0, rand=rand) == 100
    assert policy.next_delay_ms(3, deadline=10.0, clock=lambda: 0.0, rand=rand) is None
    # a retry that would end past the deadline is not attempted
    assert policy.next_delay_ms(2, deadline=0.15, clock=lambda: 0.0, rand=rand) is None
