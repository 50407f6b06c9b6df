"""How fast and how widely syncview may talk to a product: one shared limiter per vendor account.

A vendor documents its limits as a rate (requests within a rolling window) and sometimes a
bound on requests in flight at once (per endpoint for Autotask). :class:`Limits` states
them, :data:`DEFAULT_LIMITS` holds each built-in connector's (the documented ones with a
margin), and :class:`Limiter` enforces them for every thread of the process at once:
:func:`shared_limiter` hands the same limiter to every client of one account, the one the
product counts the requests against (``Connector.rate_account``: one Datto RMM API key, one
Autotask API user, or what the operator's ``rate_account`` names; else the integration), so
that two integrations of one account share its limits. Below, "integration" is that account.

The limits are shared beyond the process when the limiter is given a :class:`RateBudget` (the
sync and the doctor give it the store's, ``syncview.store.leases``): every process and machine
on one store then shares each integration's rate, as the vendor counts it (per account, not
per process), so a scheduled sync, the doctor and an operator's Sync now never add up to more
than the limit. The limiter leases a block of rate slots at a time from the budget (one short
write transaction), hands them out without touching the store, and settles each lease when its
requests have ended: its unused slots come back at once, its used ones a window after the last
of them ended. A lease that is never settled (its process was killed) frees itself by time,
``hold + deadline + window`` after it was granted. Without a budget (a test's private
limiter, a connector used outside a store) the rate is the process's own.

The bound on requests in flight is shared the same way: a process leases room for up to the
bound (per endpoint where the bound is) and renews the lease every ``hold`` seconds while it
starts requests, keeping at least what it has in flight; a request starts only within
``hold`` of a renewal and ends within ``deadline``, so a lease that is not renewed (its
process killed) frees itself ``hold + deadline`` after the last renewal (the store's budget
frees it sooner when its process, on the same machine, is found gone). A holder that finds
no room marks itself waiting, and the others then come down to a fair share at their next
renewals (the doctor waits for a long sync's room at most two holds).

Thread-safe: a slot is granted under a lock and waited for outside it. Per process, the rate
is a sliding log: a request counts from its grant until a window after it ended, so no window
of ``window`` seconds, as the product counts arrivals, ever holds more than ``rate`` of them
(a burst up to the rate is allowed, as the vendors' rolling windows allow it). Shared, a lease
counts from its grant until ``hold + deadline + window`` after it (or its settlement): a
request starts on it only within ``hold`` seconds of the grant and arrives within ``deadline``
seconds of its start, so every window of the product's holds arrivals only from leases alive
at its end, and the leases alive at any moment never hold more than ``rate`` slots.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Protocol


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


@dataclass(frozen=True, slots=True)
class Grant:
    """What a :class:`RateBudget` granted: ``count`` slots under lease ``lease`` (0: none free
    now, and then ``wait`` seconds until some may be)."""

    lease: int
    count: int
    wait: float = 0.0
    #: requests in flight: the most this holder should have from now on (others are waiting), if less
    share: int | None = None


@dataclass(frozen=True, slots=True)
class Settlement:
    """A lease given back: ``used`` of its slots went to requests, which leave every window
    ``free_in`` seconds from now (0 with none used: the lease is gone at once)."""

    lease: int
    used: int
    free_in: float


class RateBudget(Protocol):
    """An account's rate shared beyond this process: leases of slots that, alive at any one
    moment, never hold more than ``rate`` of them (the store's: ``syncview.store.leases``)."""

    #: What names the budget's store: limiters of one account and key share leases.
    key: str

    def take(self, account: str, *, rate: int, want: int, lasts: float,
             settle: Sequence[Settlement] = ()) -> Grant:
        """Settle ``settle``, then lease up to ``want`` slots (as many as are free) alive
        ``lasts`` seconds from now; raises :class:`~syncview.errors.SyncviewError` (one line)
        when the budget cannot be reached."""
        ...

    def settle(self, account: str, settle: Sequence[Settlement]) -> None:
        """Give ``settle`` back (best effort: a lease not settled frees itself by time)."""
        ...

    def take_flights(self, account: str, endpoint: str, *, limit: int, lease: int | None, need: int,
                     want: int, lasts: float) -> Grant:
        """Hold (renew, or first take) lease ``lease`` of requests in flight on ``endpoint``: at
        least ``need`` (those in flight now), up to ``want`` as far as ``limit`` leaves free and
        other holders waiting allow (``share``), alive ``lasts`` seconds from now. With none
        granted the lease stays as a mark that this holder waits."""
        ...

    def end_flights(self, account: str, endpoint: str, lease: int) -> None:
        """Give a lease of requests in flight back (none of them in flight any more)."""
        ...


#: Seconds a lease's slots may be started in; longer holds fewer leases, shorter shares sooner.
LEASE_HOLD = 5.0
#: Seconds a request may take to reach the product once started: the HTTP layer's default
#: ``request_deadline`` (http/reading.py), which bounds every wait of a request, connecting included.
ARRIVAL_DEADLINE = 120.0


class _Lease:
    """Slots leased from a budget, as this process uses them."""

    __slots__ = ("id", "count", "used", "open", "use_by", "last_end")

    def __init__(self, lease: int, count: int, use_by: float) -> None:
        self.id, self.count, self.use_by = lease, count, use_by
        self.used = self.open = 0
        self.last_end: float | None = None


class _Flight:
    """Requests in flight on one endpoint leased from a budget, as this process uses them."""

    __slots__ = ("lease", "slots", "cap", "open", "started", "use_by", "ask_again", "asking")

    def __init__(self) -> None:
        self.lease: int | None = None
        #: leased; at most ``cap`` of them used at once (less when others wait); room claimed
        #: (requests waiting for the rate, or in flight); requests started and not yet ended
        self.slots = self.cap = self.open = self.started = 0
        #: no request starts from then on without a renewal; the store is asked again from then on
        self.use_by = self.ask_again = 0.0
        self.asking = False


class _Boarding:
    """One request's room in flight: ``start`` as it is sent, ``land`` once it has ended."""

    __slots__ = ("start", "land")

    def __init__(self, start: Callable[[], None], land: Callable[[], None]) -> None:
        self.start, self.land = start, land


class Limiter:
    """Enforces :class:`Limits` across threads: ``with limiter.slot(endpoint): send()``.

    A thread that already holds a slot (a token request made from inside a request's auth
    flow) is not made to wait for a second concurrency slot, which could deadlock when every
    slot is held by a thread waiting for that token; its request still takes a rate slot.

    With a ``budget`` the rate slots are leased from it (see the module docstring):
    ``account`` names the rate there, ``hold`` is how long a lease's slots may be started
    in (default: :data:`LEASE_HOLD`, at most a quarter of the window) and ``deadline`` how long
    a request may take to arrive.
    """

    def __init__(self, limits: Limits, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, account: str = "",
                 budget: RateBudget | None = None, hold: float | None = None,
                 deadline: float = ARRIVAL_DEADLINE) -> None:
        self.limits = limits
        #: what the product counts the requests against (Connector.rate_account); names the budget's leases
        self.account = account
        self.budget = budget
        self.hold = hold if hold is not None else min(LEASE_HOLD, limits.window / 4)
        self.deadline = deadline
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        #: when each finished request leaves the rate window (its end + the window), oldest first
        self._leaving: deque[float] = deque()
        #: requests granted and not finished: they count in every window until they end
        self._open = 0
        self._semaphores: dict[str, threading.BoundedSemaphore] = {}
        self._held = threading.local()
        #: leases from the budget not yet settled, oldest first; whether a thread is asking for one
        self._leases: list[_Lease] = []
        self._asking = False
        #: slots to ask for next: the concurrency bound, doubled while leases run out early
        self._want = limits.workers
        #: leases taken from the budget (benchmarks count what sharing costs)
        self.leases_taken = 0
        #: requests in flight leased from the budget, by endpoint ("" when the bound is not per endpoint)
        self._flights: dict[str, _Flight] = {}

    def shared_through(self, budget: RateBudget, *, deadline: float = ARRIVAL_DEADLINE) -> Limiter:
        """This limiter's counterpart whose rate is leased from ``budget``: the process's one for
        the account and the budget's store when this is the process's shared one, else a
        private one on the same clock."""
        if self.budget is not None and self.budget.key == budget.key:
            self.budget = budget
            self.deadline = max(self.deadline, deadline)
            return self
        if _SHARED.get((self.account, self.limits, None)) is self:
            return shared_limiter(self.account, self.limits, budget, deadline=deadline)
        return Limiter(self.limits, clock=self._clock, sleep=self._sleep, account=self.account,
                       budget=budget, hold=self.hold, deadline=deadline)

    @contextmanager
    def slot(self, endpoint: str = "") -> Iterator[float]:
        """Hold one request's slot on ``endpoint`` while the block runs; yields the seconds waited."""
        nested = getattr(self._held, "depth", 0) > 0
        began = self._clock()
        boarding = None if nested else self._board(endpoint)
        self._held.depth = getattr(self._held, "depth", 0) + 1
        try:
            granted, lease = self._take_rate()
            try:
                if boarding is not None:
                    boarding.start()
                yield granted - began
            finally:
                self._finish(lease)
        finally:
            self._held.depth -= 1
            if boarding is not None:
                boarding.land()

    def _board(self, endpoint: str) -> _Boarding | None:
        """Wait for room for one more request in flight on ``endpoint`` (None without a bound)."""
        limit = self.limits.concurrency
        if limit is None:
            return None
        key = endpoint if self.limits.per_endpoint else ""
        budget = self.budget
        if budget is None:
            semaphore = self._semaphore(key, limit)
            semaphore.acquire()
            return _Boarding(lambda: None, semaphore.release)
        flight = self._flights.setdefault(key, _Flight())
        self._fly(budget, key, limit, flight, starting=False)
        started = False

        def start() -> None:
            nonlocal started
            self._fly(budget, key, limit, flight, starting=True)
            started = True

        def land() -> None:
            with self._changed:
                flight.open -= 1
                if started:
                    flight.started -= 1
                self._changed.notify_all()

        return _Boarding(start, land)

    def _fly(self, budget: RateBudget, key: str, limit: int, flight: _Flight, *, starting: bool) -> None:
        """Claim room on ``flight`` (before the rate slot: a thread waits for room before it takes
        a slot of the rate), or, ``starting``, start the request it claimed room for (after the
        rate slot, just before it is sent): within the lease while it is open to new requests,
        else renewing it first. One thread asks the store at a time and no request starts while
        it asks, so what has started can only fall between the asker's count of it and the
        store's answer: the lease never holds less than what has started, and a request starts
        only within ``hold`` of a renewal, ending (by the deadline) within the lease's life. A
        renewal keeps what has started and takes what is free, less when other holders wait;
        with none free for it, the thread asks again when the store says some may be, or sooner
        when one of this process's requests lands.
        """
        def room(now: float) -> bool:
            if flight.lease is None or now >= flight.use_by:
                return False
            return (flight.started if starting else flight.open) < min(flight.slots, flight.cap)

        with self._changed:
            while True:
                now = self._clock()
                if flight.asking:
                    self._changed.wait(0.05)
                    continue
                if room(now):
                    if starting:
                        flight.started += 1
                    else:
                        flight.open += 1
                    return
                if flight.lease is not None and now < min(flight.use_by, flight.ask_again):
                    self._changed.wait(min(0.05, min(flight.use_by, flight.ask_again) - now))
                    continue
                flight.asking = True
                need = flight.started
                self._changed.release()
                try:
                    began = self._clock()
                    grant = budget.take_flights(self.account, key, limit=limit, lease=flight.lease, need=need,
                                                want=limit, lasts=self.hold + self.deadline)
                finally:
                    self._changed.acquire()
                    flight.asking = False
                    self._changed.notify_all()
                flight.lease, flight.slots, flight.use_by = grant.lease, grant.count, began + self.hold
                flight.cap = grant.count if grant.share is None else min(grant.count, grant.share)
                # With no room for this thread now, ask again when the store says some may be free.
                flight.ask_again = (flight.use_by if room(self._clock())
                                    else self._clock() + max(0.01, min(grant.wait, self.hold / 4)))

    def acquire(self) -> float:
        """Take a rate slot for a request that counts as sent at once; returns the seconds waited."""
        began = self._clock()
        granted, lease = self._take_rate()
        self._finish(lease)
        return granted - began

    def release(self) -> None:
        """Settle every lease no request is using now (a client closing): its unused slots, and
        its room for requests in flight, go back to the budget at once instead of when it expires."""
        budget = self.budget
        if budget is None:
            return
        with self._lock:
            settle = self._settlements(self._clock(), closing=True)
            landed = []
            for key, flight in self._flights.items():
                if flight.lease is not None and not flight.open and not flight.asking:
                    landed.append((key, flight.lease))
                    flight.lease, flight.slots, flight.cap = None, 0, 0
        if settle:
            budget.settle(self.account, settle)
        for key, lease in landed:
            budget.end_flights(self.account, key, lease)

    def _semaphore(self, key: str, limit: int) -> threading.BoundedSemaphore:
        with self._lock:
            semaphore = self._semaphores.get(key)
            if semaphore is None:
                semaphore = self._semaphores[key] = threading.BoundedSemaphore(limit)
            return semaphore

    def _take_rate(self) -> tuple[float, _Lease | None]:
        """Wait for a rate slot; the time it was granted at (the last time this thread reads the
        clock) and the lease it is on, if shared.

        A request counts in the window from its grant until a window after it ended: the
        product sees it arrive somewhere in between, so no window of the product's can hold
        more than ``rate`` of them however late each one arrives.
        """
        rate, window = self.limits.rate, self.limits.window
        if rate is None:
            return self._clock(), None
        if self.budget is not None:
            return self._take_leased(self.budget, rate)
        while True:
            with self._lock:
                now = self._clock()
                leaving = self._leaving
                while leaving and leaving[0] <= now:
                    leaving.popleft()
                if self._open + len(leaving) < rate:
                    self._open += 1
                    return now, None
                # Due when the oldest finished request leaves the window; with every slot still in
                # flight, look again shortly (a request ending starts its window then).
                wait = leaving[0] - now + 1e-6 if leaving else min(0.05, window)
            self._sleep(wait)

    def _take_leased(self, budget: RateBudget, rate: int) -> tuple[float, _Lease]:
        """A slot of a lease still open to new requests, leasing more from ``budget`` when none is.

        One thread asks at a time, and keeps asking (waiting as long as the budget says) until
        it is granted some: the others wait for its answer, so a full budget is asked once per
        wait, not once per thread.
        """
        while True:
            with self._changed:
                while True:
                    now = self._clock()
                    for lease in self._leases:
                        if lease.used < lease.count and now < lease.use_by:
                            lease.used += 1
                            lease.open += 1
                            return now, lease
                    if not self._asking:
                        break
                    self._changed.wait(0.05)
                self._asking = True
                settle = self._settlements(now)
            granted: _Lease | None = None
            try:
                while granted is None:
                    began = self._clock()
                    grant = budget.take(self.account, rate=rate, want=self._want,
                                        lasts=self.hold + self.deadline + self.limits.window, settle=settle)
                    settle = []
                    if grant.count:
                        # Started only within ``hold`` of a moment before the grant, so arriving
                        # within its life however the clocks of this machine and the store differ.
                        granted = _Lease(grant.lease, grant.count, began + self.hold)
                    else:
                        self._sleep(max(0.01, min(grant.wait, self.hold)))
            finally:
                with self._changed:
                    self._asking = False
                    if granted is not None:
                        self._leases.append(granted)
                        self.leases_taken += 1
                    self._changed.notify_all()

    def _settlements(self, now: float, *, closing: bool = False) -> list[Settlement]:
        """Remove the leases done with (past their hold, or used up, or ``closing``; none of their
        requests in flight) and say how to settle them. Called under the lock."""
        done: list[Settlement] = []
        kept: list[_Lease] = []
        cap = max(1, (self.limits.rate or 1) // 8)
        for lease in self._leases:
            if lease.open or not (closing or now >= lease.use_by or lease.used >= lease.count):
                kept.append(lease)
                continue
            # A lease used up early asks for twice as many next time; one left over, for fewer.
            if lease.used >= lease.count and now < lease.use_by:
                self._want = min(cap, max(self._want, 2 * lease.count))
            elif lease.used < lease.count:
                self._want = min(cap, self.limits.workers)
            ended = lease.last_end if lease.last_end is not None else now
            free_in = max(0.0, ended + self.limits.window - now) if lease.used else 0.0
            done.append(Settlement(lease.id, lease.used, free_in))
        self._leases = kept
        return done

    def _finish(self, lease: _Lease | None) -> None:
        if self.limits.rate is None:
            return
        with self._lock:
            if lease is not None:
                lease.open -= 1
                lease.last_end = self._clock()
                return
            self._open -= 1
            self._leaving.append(self._clock() + self.limits.window)


_SHARED: dict[tuple[str, Limits, str | None], Limiter] = {}
_SHARED_LOCK = threading.Lock()


def shared_limiter(account: str, limits: Limits, budget: RateBudget | None = None, *,
                   deadline: float = ARRIVAL_DEADLINE) -> Limiter:
    """The process's one limiter for ``account`` under ``limits`` (made on first use),
    its rate leased from ``budget`` when given (one limiter per budget's store)."""
    key = (account, limits, budget.key if budget is not None else None)
    with _SHARED_LOCK:
        limiter = _SHARED.get(key)
        if limiter is None:
            limiter = _SHARED[key] = Limiter(limits, account=account, budget=budget, deadline=deadline)
        elif budget is not None:
            limiter.budget = budget  # the latest handle on that store (an older one may be closed)
            limiter.deadline = max(limiter.deadline, deadline)
        return limiter
