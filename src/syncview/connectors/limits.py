"""How fast and how widely syncview may talk to a product: one shared limiter per integration.

A vendor documents its limits as a rate (requests within a rolling window) and sometimes a
bound on requests in flight at once (per endpoint for Autotask). :class:`Limits` states
them, :data:`DEFAULT_LIMITS` holds each built-in connector's (the documented ones with a
margin), and :class:`Limiter` enforces them for every thread of the process at once:
:func:`shared_limiter` hands the same limiter to every client of one integration, so a
sync, the doctor and the screen's Sync now in one process never add up to more than the
limit. (Two processes each keep their own: two syncs of one integration never run at once,
see the sync lock, but the doctor in another process is not counted.)

Thread-safe: a slot is granted under a lock and waited for outside it. The rate is a
sliding log: a request counts from its grant until a window after it ended, so no window of
``window`` seconds, as the product counts arrivals, ever holds more than ``rate`` of them
(a burst up to the rate is allowed, as the vendors' rolling windows allow it).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class Limits:
    """A product's limits on one integration's requests."""

    #: Requests allowed within any rolling ``window`` seconds; None: no rate limit.
    rate: int | None = None
    window: float = 60.0
    #: Requests in flight at once; None: no bound. Per endpoint when ``per_endpoint``.
    concurrency: int | None = None
    per_endpoint: bool = False

    def __post_init__(self) -> None:
        if self.rate is not None and self.rate < 1:
            raise ValueError("a rate limit allows at least one request per window")
        if self.window <= 0:
            raise ValueError("a rate window must be positive")
        if self.concurrency is not None and self.concurrency < 1:
            raise ValueError("a concurrency limit allows at least one request at once")

    @property
    def workers(self) -> int:
        """How many requests one list may have in flight: the concurrency bound, else a modest 8."""
        return self.concurrency or 8

    def overridden(self, *, per_minute: float | None = None, concurrency: int | None = None) -> Limits:
        """These limits with an operator's ``rate_limit`` (requests per minute) and ``concurrency``."""
        limits = self
        if per_minute is not None:
            limits = replace(limits, rate=max(1, int(per_minute)), window=60.0)
        if concurrency is not None:
            limits = replace(limits, concurrency=max(1, int(concurrency)))
        return limits

    def describe(self) -> str:
        """The limits in an operator's words."""
        parts = []
        if self.rate is not None:
            window = "a minute" if self.window == 60 else "an hour" if self.window == 3600 else f"{self.window:g} s"
            parts.append(f"{self.rate:,} requests {window}")
        if self.concurrency is not None:
            parts.append(f"{self.concurrency} at once{' per endpoint' if self.per_endpoint else ''}")
        return ", ".join(parts) or "no limit"


#: The built-in connectors' defaults: what each vendor documents, with a margin.
DEFAULT_LIMITS: dict[str, Limits] = {
    # 600 requests per rolling 60 s, then 429 and a temporary 403 block on repeated breaches;
    # Datto slows an account down from 90 % (540) on, so stay under that. No documented bound
    # on concurrency: 10 in flight keep that rate at a 1 s latency.
    "datto_rmm": Limits(rate=520, window=60.0, concurrency=10),
    # 10 000 requests an hour per database, shared by every integration on it, with latency
    # added to all of them from half of that on: stay under half. 3 concurrent requests per
    # endpoint per integration code.
    "autotask": Limits(rate=4_800, window=3600.0, concurrency=3, per_endpoint=True),
    # ConnectWise and HaloPSA document no limit; both answer 429 with Retry-After, which the
    # HTTP layer honours. A courteous bound on requests in flight instead of a rate.
    "connectwise": Limits(concurrency=4),
    "halopsa": Limits(concurrency=4),
}


class Limiter:
    """Enforces :class:`Limits` across threads: ``with limiter.slot(endpoint): send()``.

    A thread that already holds a slot (a token request made from inside a request's auth
    flow) is not made to wait for a second concurrency slot, which could deadlock when every
    slot is held by a thread waiting for that token; its request still takes a rate slot.
    """

    def __init__(self, limits: Limits, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.limits = limits
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        #: when each finished request leaves the rate window (its end + the window), oldest first
        self._leaving: deque[float] = deque()
        #: requests granted and not finished: they count in every window until they end
        self._open = 0
        self._semaphores: dict[str, threading.BoundedSemaphore] = {}
        self._held = threading.local()

    @contextmanager
    def slot(self, endpoint: str = "") -> Iterator[float]:
        """Hold one request's slot on ``endpoint`` while the block runs; yields the seconds waited."""
        semaphore = self._semaphore(endpoint)
        nested = getattr(self._held, "depth", 0) > 0
        began = self._clock()
        if semaphore is not None and not nested:
            semaphore.acquire()
        self._held.depth = getattr(self._held, "depth", 0) + 1
        try:
            granted = self._take_rate()
            try:
                yield granted - began
            finally:
                self._finish()
        finally:
            self._held.depth -= 1
            if semaphore is not None and not nested:
                semaphore.release()

    def acquire(self) -> float:
        """Take a rate slot for a request that counts as sent at once; returns the seconds waited."""
        began = self._clock()
        granted = self._take_rate()
        self._finish()
        return granted - began

    def _semaphore(self, endpoint: str) -> threading.BoundedSemaphore | None:
        if self.limits.concurrency is None:
            return None
        key = endpoint if self.limits.per_endpoint else ""
        with self._lock:
            semaphore = self._semaphores.get(key)
            if semaphore is None:
                semaphore = self._semaphores[key] = threading.BoundedSemaphore(self.limits.concurrency)
            return semaphore

    def _take_rate(self) -> float:
        """Wait for a rate slot; the time it was granted at (the last time this thread reads the clock).

        A request counts in the window from its grant until a window after it ended: the
        product sees it arrive somewhere in between, so no window of the product's can hold
        more than ``rate`` of them however late each one arrives.
        """
        rate, window = self.limits.rate, self.limits.window
        if rate is None:
            return self._clock()
        while True:
            with self._lock:
                now = self._clock()
                leaving = self._leaving
                while leaving and leaving[0] <= now:
                    leaving.popleft()
                if self._open + len(leaving) < rate:
                    self._open += 1
                    return now
                # Due when the oldest finished request leaves the window; with every slot still in
                # flight, look again shortly (a request ending starts its window then).
                wait = leaving[0] - now + 1e-6 if leaving else min(0.05, window)
            self._sleep(wait)

    def _finish(self) -> None:
        if self.limits.rate is None:
            return
        with self._lock:
            self._open -= 1
            self._leaving.append(self._clock() + self.limits.window)


_SHARED: dict[tuple[str, Limits], Limiter] = {}
_SHARED_LOCK = threading.Lock()


def shared_limiter(integration: str, limits: Limits) -> Limiter:
    """The process's one limiter for ``integration`` under ``limits`` (made on first use)."""
    with _SHARED_LOCK:
        limiter = _SHARED.get((integration, limits))
        if limiter is None:
            limiter = _SHARED[(integration, limits)] = Limiter(limits)
        return limiter
