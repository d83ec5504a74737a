"""The retry policy and HS256 tokens."""

from __future__ import annotations

import base64
import json

import pytest

from chat import auth
from chat.retry import RetryPolicy

SECRET = b"s3cret"


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


def test_token_round_trip() -> None:
    token = auth.issue(SECRET, "user-1", "Alice", "dynamowave", ttl_seconds=60, now=1000)
    claims = auth.verify(token, SECRET, "dynamowave", now=1010)
    assert claims["sub"] == "user-1" and claims["name"] == "Alice"


def _forge(header: dict, claims: dict, signature: bytes = b"") -> str:
    enc = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")  # noqa: E731
    return f"{enc(header)}.{enc(claims)}.{base64.urlsafe_b64encode(signature).decode().rstrip('=')}"


@pytest.mark.parametrize(
    ("make_token", "reason"),
    [
        (lambda: auth.issue(b"other", "u", "n", "dynamowave", now=1000), "bad signature"),
        (lambda: auth.issue(SECRET, "u", "n", "dynamowave", ttl_seconds=10, now=0), "token expired"),
        (lambda: auth.issue(SECRET, "u", "n", "someone-else", now=1000), "wrong issuer"),
        (lambda: _forge({"alg": "none"}, {"sub": "u", "iss": "dynamowave", "exp": 9999}), "unsupported algorithm"),
        (lambda: "a.b", "malformed token"),
        (lambda: None, "malformed token"),
        (lambda: "x" * 5000, "malformed token"),
        (lambda: "!!.??.**", "malformed token"),
    ],
)
def test_invalid_tokens_are_rejected(make_token, reason: str) -> None:
    with pytest.raises(auth.InvalidToken, match=reason):
        auth.verify(make_token(), SECRET, "dynamowave", now=1000)
