"""Retries and pacing: how often a failed request is tried again, how long to wait, and how a
client without a shared limiter paces itself.

- :class:`RetryPolicy`: bounded tries with exponential backoff and equal jitter on network
  failures, timeouts and 5xx answers; :func:`retry_wait` reads a 429's ``Retry-After``
  (seconds or an HTTP date, :func:`parse_retry_after`) and honours it up to a bound, past
  which the sync stops with a line that says so.
- :class:`RateLimiter`: a private token bucket for a client made without the integration's
  shared :class:`~syncview.connectors.limits.Limiter` (which enforces the vendors' documented
  rate and concurrency for every client of an integration at once).

Why not tenacity or stamina: both are well kept and do backoff with jitter well, but what
costs care here is not the loop. A try must take a slot of the integration's shared limiter
(rate and requests in flight, per endpoint for Autotask) and give it back while it sleeps;
the wait after a 429 is the server's ``Retry-After``, bounded, and a wait past the bound is
an operator's error line rather than another try; a refused answer (too large, too slow, an
untrusted certificate) must never be retried; and tests inject ``sleep`` and ``random`` so
that every retry runs instantly and deterministically. With either library these would be
callbacks around a loop of ten lines (``HttpClient.request``), and a dependency more in the
core for it.
"""

from __future__ import annotations

import random as _random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from syncview.connectors.http.errors import ErrorWording, _path
from syncview.errors import ConnectorError

class RateLimiter:
    """Token bucket allowing ``per_minute`` requests per minute, with bursts of ``burst``.

    Thread-safe: a caller reserves its slot under the lock (the bucket may go
    negative, which queues later callers behind it) and sleeps outside the lock,
    so concurrent workers share the budget without serialising on the sleep.
    With the default ``burst=1`` requests are evenly spaced, so any 60-second
    window holds at most ``per_minute + 1`` of them: set ``per_minute`` a little
    under a vendor's hard limit.
    """

    def __init__(
        self,
        per_minute: float,
        *,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_minute <= 0:
            raise ValueError("per_minute must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.per_minute = per_minute
        self.burst = burst
        self._rate = per_minute / 60.0  # tokens per second
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(burst)
        self._updated = clock()

    def acquire(self) -> float:
        """Take one request slot, sleeping until it is due; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self._rate)
            self._updated = now
            self._tokens -= 1
            wait = -self._tokens / self._rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
        return wait


# --------------------------------------------------------------------------- retries


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently a request is retried.

    All methods are retried: connectors only read, and the POSTs they send
    (token requests, Autotask ``/query``) are safe to repeat.
    """

    #: Tries in all, the first included, for any retryable failure (network, 5xx, 429).
    attempts: int = 5
    #: First backoff in seconds; doubles with each retry.
    backoff: float = 0.5
    #: Longest backoff between two tries, in seconds.
    max_backoff: float = 30.0
    #: Longest ``Retry-After`` honoured, in seconds; a longer one fails the request at once
    #: rather than stalling a sync for hours.
    max_retry_after: float = 300.0
    #: Statuses worth another try.
    retry_statuses: frozenset[int] = frozenset({500, 502, 503, 504})

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("a retry policy needs at least one attempt")

    def delay(self, retry: int, random: Callable[[], float] = _random.random) -> float:
        """Seconds before retry number ``retry`` (1-based): exponential, with jitter.

        The jitter keeps the upper half random ("equal jitter") so that workers
        hitting the same outage spread out, yet each still waits a real minimum.
        """
        ceiling = min(self.max_backoff, self.backoff * 2.0 ** (retry - 1))
        return ceiling / 2 + random() * ceiling / 2


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (delta-seconds or an HTTP date); None if absent or unreadable."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a naive result means "-0000"
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())



def retry_wait(policy: RetryPolicy, response: httpx.Response, attempt: int, *, random: Callable[[], float],
               wording: ErrorWording) -> float | None:
    """Seconds to wait before trying ``response``'s request again, or None to stop here (success,
    final failure, or not worth another try). A 429 that asks for too long a wait, or that
    comes on the last try, raises the ConnectorError an operator reads."""
    status = response.status_code
    if status == 429:
        asked = parse_retry_after(response.headers.get("Retry-After"))
        if asked is not None and asked > policy.max_retry_after:
            raise ConnectorError(wording.redact(
                f"{wording.integration}: {wording.kind} rate limit reached ({_path(response)} answered 429) and it "
                f"asks to wait {asked:.0f} s, more than the {policy.max_retry_after:.0f} s syncview waits; "
                "sync again later, or lower this integration's rate_limit"))
        if attempt == policy.attempts:
            raise ConnectorError(wording.redact(
                f"{wording.integration}: still rate limited after {attempt} attempts ({_path(response)} answered "
                "429); sync again later, or lower this integration's rate_limit"))
        return asked if asked is not None else policy.delay(attempt, random)
    if status in policy.retry_statuses and attempt < policy.attempts:
        return policy.delay(attempt, random)
    return None
