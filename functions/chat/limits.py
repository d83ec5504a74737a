"""The per-connection send rate: a token bucket kept as GCRA state in the connection item.

GCRA (the generic cell rate algorithm) stores one number per connection, the *theoretical arrival
time* ``tat`` of the next frame at the steady rate. A frame arriving at ``now`` is allowed when
``max(tat, now) - now <= (burst - 1) * interval`` and then moves ``tat`` to ``max(tat, now) +
interval``. That is exactly a bucket of ``burst`` tokens refilled at ``rate`` per second: from a
full bucket, at most ``burst + rate * elapsed`` frames pass in ``elapsed`` seconds.

The state lives in the connection item (``sendTat``, epoch microseconds) and only ever changes by
a conditional write: the common case (a sender below the rate, ``tat`` in the past) is one
UpdateItem; so is a sender inside a burst when this execution environment saw the previous value
(compare-and-set on it), otherwise a second one (on the value the failed first one returned); a
refused frame costs at most one failed conditional write and changes nothing. Concurrent
invocations of one connection therefore never take more tokens than the bucket holds.

``tat`` only ever grows, so a value this execution environment saw earlier is a lower bound of the
stored one: when it already refuses a frame, the table would too. ``admit_send`` remembers the
last value per connection and refuses from it without a DynamoDB call; a flooding socket therefore
costs the table one write per token, not one per frame. (Another environment may have moved ``tat``
further: the answer's ``retryAfterMs`` can then be early, never late, and the retry is judged by
the table.)

``decide`` is the whole algorithm, pure; ``take`` runs it against the store; ``admit_send`` is what
the sendMessage handler calls.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

from chat import metrics
from chat.deps import Dependencies
from chat.protocol import NOT_REGISTERED, ProtocolError
from chat.store import NotConnected, Store

MICROS = 1_000_000
# Compare-and-set rounds before a frame is refused: each lost round means another invocation of the
# same connection moved ``tat`` first (it took a token), so refusing is never too lenient.
CAS_ROUNDS = 8
KNOWN_CONNECTIONS = 10_000  # per execution environment; the oldest are forgotten first


@dataclass(frozen=True)
class SendRate:
    """``per_second`` frames per second sustained, up to ``burst`` at once."""

    per_second: int
    burst: int

    def __post_init__(self) -> None:
        if self.per_second < 1 or self.burst < 1:
            raise ValueError(f"send rate {self.per_second}/s with burst {self.burst}: both must be at least 1")

    @property
    def interval_us(self) -> int:
        """Microseconds per token, rounded up: the bucket never refills faster than the rate."""
        return -(-MICROS // self.per_second)

    @property
    def tolerance_us(self) -> int:
        """How far ``tat`` may run ahead of now when a frame is allowed: the burst minus this frame."""
        return (self.burst - 1) * self.interval_us

    def max_allowed(self, elapsed_s: float) -> int:
        """The most frames a full bucket lets through in ``elapsed_s`` seconds."""
        return self.burst + math.floor(max(0.0, elapsed_s) * MICROS / self.interval_us)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    tat_us: int  # allowed: the new theoretical arrival time to store; refused: the current one
    retry_after_ms: int = 0  # refused: when a token is back (at least 1)


def decide(rate: SendRate, tat_us: int | None, now_us: int) -> Decision:
    """GCRA for one frame at ``now_us`` given the stored ``tat_us`` (None: nothing stored yet)."""
    start = now_us if tat_us is None else max(tat_us, now_us)
    ahead = start - now_us
    if ahead > rate.tolerance_us:
        return Decision(False, start, max(1, math.ceil((ahead - rate.tolerance_us) / 1000)))
    return Decision(True, start + rate.interval_us)


class SendState(Protocol):
    """The store's compare-and-set of a connection's ``tat`` (chat.store.connections.Connections)."""

    def set_send_tat(self, connection_id: str, tat_us: int, expected_us: int | None, now: float) -> int | None: ...


def take(state: SendState, connection_id: str, rate: SendRate, now: float, known_tat_us: int | None = None) -> Decision:
    """Take one token from the connection's bucket at ``now`` (epoch seconds), or refuse.
    ``known_tat_us``: a value of ``tat`` seen before, tried as the expected one first (right unless
    another invocation moved it since: then the failed condition tells the real one).
    Raises ``NotConnected`` when the connection has no live record."""
    now_us = int(now * MICROS)
    seen = known_tat_us  # the stored tat as far as we know; a failed condition tells the real one
    for _round in range(CAS_ROUNDS):
        decision = decide(rate, seen, now_us)
        if not decision.allowed:
            return decision
        # A tat in the past is as good as none: the condition is then "absent or not after now",
        # which a slightly later clock in another invocation cannot break.
        expected = seen if seen is not None and seen > now_us else None
        found = state.set_send_tat(connection_id, decision.tat_us, expected, now)
        if found is None:
            return decision
        seen = found
    return Decision(False, seen if seen is not None else now_us, max(1, math.ceil(rate.interval_us / 1000)))


class KnownStates:
    """The last ``tat`` this environment saw per connection (a lower bound of the stored one),
    bounded, safe to share between threads."""

    def __init__(self, capacity: int = KNOWN_CONNECTIONS) -> None:
        self._tats: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()
        self.capacity = capacity

    def get(self, connection_id: str) -> int | None:
        with self._lock:
            return self._tats.get(connection_id)

    def remember(self, connection_id: str, tat_us: int) -> None:
        with self._lock:
            self._tats[connection_id] = max(tat_us, self._tats.get(connection_id, tat_us))
            self._tats.move_to_end(connection_id)
            while len(self._tats) > self.capacity:
                self._tats.popitem(last=False)


# One per store (deps.reset() builds a new one: a new table may reuse connection ids).
_known: weakref.WeakKeyDictionary[Store, KnownStates] = weakref.WeakKeyDictionary()
_known_lock = threading.Lock()


def known_states(store: Store) -> KnownStates:
    with _known_lock:
        states = _known.get(store)
        if states is None:
            states = _known[store] = KnownStates()
        return states


def send_rate(deps: Dependencies) -> SendRate:
    return SendRate(deps.settings.send_rate_per_second, deps.settings.send_burst)


def admit_send(deps: Dependencies, connection_id: str, client_message_id: str | None) -> None:
    """Charge one sendMessage frame to its connection's bucket. Over the rate: ``ProtocolError``
    ``rate_limited`` with ``retry_after_ms`` (nothing is stored or fanned out); no live connection
    record: ``unauthorized``. Throttling or an outage of the table propagates (``unavailable``)."""
    rate, now, known = send_rate(deps), deps.clock(), known_states(deps.store)
    seen = known.get(connection_id)
    decision = decide(rate, seen, int(now * MICROS)) if seen is not None else None
    if decision is None or decision.allowed:  # only the table can say yes
        try:
            decision = take(deps.store.connections, connection_id, rate, now, seen)
        except NotConnected:
            raise ProtocolError("unauthorized", NOT_REGISTERED, client_message_id) from None
        known.remember(connection_id, decision.tat_us)
    if not decision.allowed:
        metrics.count("RateLimitedFrames")
        raise ProtocolError(
            "rate_limited",
            f"sending faster than {rate.per_second} messages per second (bursts of {rate.burst}); "
            f"retry in {decision.retry_after_ms} ms",
            client_message_id,
            retry_after_ms=decision.retry_after_ms,
        )
