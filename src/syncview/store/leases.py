"""Leases: each integration's rate and room in flight shared by every process and machine on one store.

A vendor counts its rate per account, not per process: a scheduled sync, the doctor and an
operator's Sync now (on any machine of a team store) spend one budget. :class:`StoreBudget` is
that budget, the :class:`~syncview.connectors.limits.RateBudget` the connectors' limiter leases
blocks of slots from (see :mod:`syncview.connectors.limits` for why the arithmetic holds).

Room for requests in flight is leased alike (``flight_lease``: one row per holder and endpoint,
renewed while in use, kept for what is in flight, a row of no slots marking a holder that waits
so that the others come down to a fair share; see :meth:`StoreBudget.take_flights`).

The ``integration`` a lease names is the account the product counts the requests against
(``Connector.rate_account``: the integration's name unless its connection settings or its
``rate_account`` name one that several integrations share).

One ``rate_lease`` row per lease: integration, holder, slots, granted_at and expires_at on the
store's clock (seconds since the epoch; one clock for every machine of a team store). Leasing
is one short transaction: expired leases deleted, the holder's finished leases settled (their
unused slots freed, their used ones kept until a window after the last ended), the live slots
summed, and a new lease of as many as are free inserted. On SQLite the transaction is immediate
(it takes its turn with the writers, waiting at most the busy timeout; a sync's writer never
holds the store while it waits for a request, so no one deadlocks); on PostgreSQL it takes a
transaction advisory lock of its own per integration, never the writers' lock, so leasing never
waits for a sync's page to be written.
"""

from __future__ import annotations

import os
import re
import socket
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.elements import ColumnElement

from syncview.connectors.limits import Grant, Settlement
from syncview.errors import StoreError, SyncviewError
from syncview.store.db import APPLICATION_ID, SCHEMA_VERSION, Store, connect, open_store
from syncview.store.dialect import POSTGRESQL, is_store_url
from syncview.store.models import flight_lease_table as FLIGHT
from syncview.store.models import rate_lease_table as LEASE

#: The first key of the leases' advisory lock on PostgreSQL ("SYNL"); the second, the
#: integration's name hashed (``hashtext``).
LEASE_LOCK_CLASS = 0x53594E4C

#: Seconds the room in flight of a holder found dead (a process of this machine that is gone)
#: still counts from then: the product may still be answering what it had sent.
DEAD_GRACE_S = 5.0

#: Seconds a mark of a holder waiting for room in flight lasts unless renewed (a dead waiter's
#: mark holds the others to a fair share no longer than this).
WAITING_S = 10.0

_NOW = {
    POSTGRESQL: "SELECT extract(epoch FROM clock_timestamp())::float8",
    "sqlite": "SELECT (julianday('now') - 2440587.5) * 86400.0",
}


class StoreBudget:
    """The rate budget of every account on ``store``, leased in blocks (see the module doc).

    ``transactions`` counts the store transactions made (leases taken and settled), for the
    benchmarks: the cost of sharing.
    """

    def __init__(self, store: Store, *, holder: str | None = None) -> None:
        self.store = store
        self.key = f"{store.engine_name}:{store.path}"
        self.holder = holder or f"process {os.getpid()} on {socket.gethostname()}"
        self.transactions = 0

    def take(self, account: str, *, rate: int, want: int, lasts: float,
             settle: Sequence[Settlement] = ()) -> Grant:
        try:
            with self.store.coordinate() as conn:
                self.transactions += 1
                now = self._begin(conn, account)
                self._settle(conn, settle, now)
                conn.execute(delete(LEASE).where(LEASE.c.integration == account, LEASE.c.expires_at <= now))
                held, soonest = conn.execute(
                    select(func.coalesce(func.sum(LEASE.c.slots), 0), func.min(LEASE.c.expires_at))
                    .where(LEASE.c.integration == account)).one()
                free = rate - int(held)
                if free <= 0:
                    return Grant(0, 0, max(0.0, float(soonest) - now) if soonest is not None else 0.0)
                count = max(1, min(want, free))
                result = conn.execute(insert(LEASE).values(
                    integration=account, holder=self.holder, slots=count, granted_at=now,
                    expires_at=now + lasts))
                lease = result.inserted_primary_key
                assert lease is not None
                return Grant(int(lease[0]), count)
        except SyncviewError as error:
            raise StoreError(f"{account}: cannot lease a share of its rate limit from the store: {error}") \
                from None

    def settle(self, account: str, settle: Sequence[Settlement]) -> None:
        if not settle:
            return
        try:
            with self.store.coordinate() as conn:
                self.transactions += 1
                self._settle(conn, settle, self._begin(conn, account))
        except SyncviewError as error:
            raise StoreError(f"{account}: cannot give its unused rate slots back to the store: {error}") \
                from None

    def take_flights(self, account: str, endpoint: str, *, limit: int, lease: int | None, need: int,
                     want: int, lasts: float) -> Grant:
        try:
            with self.store.coordinate() as conn:
                self.transactions += 1
                now = self._begin(conn, f"{account}\x1f{endpoint}")
                key = (FLIGHT.c.integration == account, FLIGHT.c.endpoint == endpoint)
                conn.execute(delete(FLIGHT).where(*key, FLIGHT.c.expires_at <= now))
                others = conn.execute(select(FLIGHT.c.id, FLIGHT.c.holder, FLIGHT.c.slots, FLIGHT.c.expires_at)
                                      .where(*key, FLIGHT.c.id != (lease or 0))).all()
                # A holder of this machine that is gone (killed) has nothing in flight any more:
                # its room frees after a moment's grace, not a whole request deadline later.
                dead = [row.id for row in others if row.slots and _gone(row.holder)]
                if dead:
                    conn.execute(update(FLIGHT).where(FLIGHT.c.id.in_(dead)).values(
                        expires_at=_least(conn, FLIGHT.c.expires_at, now + min(DEAD_GRACE_S, lasts))))
                    others = conn.execute(select(FLIGHT.c.id, FLIGHT.c.holder, FLIGHT.c.slots, FLIGHT.c.expires_at)
                                          .where(*key, FLIGHT.c.id != (lease or 0))).all()
                held = sum(int(slots) for _, _, slots, _ in others)
                waiting = {holder for _, holder, slots, _ in others if not slots and holder != self.holder}
                holding = {holder for _, holder, slots, _ in others if slots and holder != self.holder}
                target = min(want, limit - held)
                share = None
                if waiting:  # others wait for room: keep to a fair share of the bound
                    share = max(1, -(-limit // (len(holding) + len(waiting) + 1)))
                    target = min(target, share)
                count = max(need, target, 0)
                expires = now + (lasts if count else WAITING_S)
                if lease is None or not conn.execute(update(FLIGHT).where(FLIGHT.c.id == lease).values(
                        slots=count, expires_at=expires)).rowcount:
                    # First taken, or expired meanwhile (when nothing of it was in flight any more).
                    inserted = conn.execute(insert(FLIGHT).values(
                        integration=account, endpoint=endpoint, holder=self.holder, slots=count,
                        expires_at=expires)).inserted_primary_key
                    assert inserted is not None
                    lease = int(inserted[0])
                soonest = min((float(at) for _, _, slots, at in others if slots), default=now)
                return Grant(lease, count, max(0.0, soonest - now), share)
        except SyncviewError as error:
            raise StoreError(f"{account}: cannot lease room for its requests in flight from the store: "
                             f"{error}") from None

    def end_flights(self, account: str, endpoint: str, lease: int) -> None:
        try:
            with self.store.coordinate() as conn:
                self.transactions += 1
                self._begin(conn, f"{account}\x1f{endpoint}")
                conn.execute(delete(FLIGHT).where(FLIGHT.c.id == lease))
        except SyncviewError as error:
            raise StoreError(f"{account}: cannot give its room for requests in flight back to the store: "
                             f"{error}") from None

    def _begin(self, conn: Connection, account: str) -> float:
        """Take the account's turn (PostgreSQL; SQLite's immediate transaction has it) and
        read the store's clock."""
        if conn.dialect.name == POSTGRESQL:
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (LEASE_LOCK_CLASS, account))
        return float(conn.exec_driver_sql(_NOW[conn.dialect.name]).scalar_one())

    @staticmethod
    def _settle(conn: Connection, settle: Sequence[Settlement], now: float) -> None:
        for done in settle:
            if done.used <= 0:
                conn.execute(delete(LEASE).where(LEASE.c.id == done.lease))
            else:  # a settlement only ever frees: never more slots, never longer, than granted
                conn.execute(update(LEASE).where(LEASE.c.id == done.lease).values(
                    slots=_least(conn, LEASE.c.slots, done.used),
                    expires_at=_least(conn, LEASE.c.expires_at, now + done.free_in)))


_HOLDER = re.compile(r"^process (\d+) on (.+)$")


def _gone(holder: str) -> bool:
    """Whether ``holder`` is a process of this machine that no longer runs (a recycled process
    id reads as alive: its lease then frees by time, as another machine's does)."""
    match = _HOLDER.match(holder)
    if match is None or match.group(2) != socket.gethostname() or int(match.group(1)) == os.getpid():
        return False
    try:
        os.kill(int(match.group(1)), 0)
    except ProcessLookupError:
        return True
    except OSError:  # another user's process: alive
        return False
    return False


def _least(conn: Connection, column: ColumnElement[Any], value: float) -> ColumnElement[Any]:
    """The smaller of ``column`` and ``value``: SQLite's two-argument min, PostgreSQL's least."""
    return func.least(column, value) if conn.dialect.name == POSTGRESQL else func.min(column, value)


def leases_alive(store: Store) -> list[tuple[str, int, int]]:
    """(integration, holders, slots) of the leases alive now, by integration (for the doctor)."""
    with store.read() as conn:
        now = float(conn.exec_driver_sql(_NOW[conn.dialect.name]).scalar_one())
        rows = conn.execute(
            select(LEASE.c.integration, func.count(func.distinct(LEASE.c.holder)), func.sum(LEASE.c.slots))
            .where(LEASE.c.expires_at > now).group_by(LEASE.c.integration).order_by(LEASE.c.integration)).all()
    return [(str(name), int(holders), int(slots)) for name, holders, slots in rows]


def open_budget(path: Path | str, *, password: str | None = None) -> StoreBudget | None:
    """The budget of the store at ``path`` (a file or a PostgreSQL URL) when it is a store of this
    schema already, else None: the doctor shares the rate of a store that exists, and never
    creates, migrates or (beyond its leases) writes one. The caller closes ``budget.store``."""
    try:
        if is_store_url(path):
            from syncview.store.pg import engine_for, schema_state

            engine, shown = engine_for(str(path), password=password)
            try:
                with engine.connect() as conn:
                    version, marked = schema_state(conn, shown)
            except BaseException:
                engine.dispose()
                raise
            if not marked or version != SCHEMA_VERSION:
                engine.dispose()
                return None
            return StoreBudget(Store(shown, engine))
        file = Path(path)
        if not file.is_file() or not os.access(file, os.W_OK) or not os.access(file.parent, os.W_OK):
            return None
        with closing(connect(file, read_only=True, timeout=1.0)) as raw:
            if raw.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID or \
                    raw.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                return None
        return StoreBudget(open_store(file))
    except (SyncviewError, DBAPIError, sqlite3.DatabaseError, OSError):
        return None  # the doctor's store checks say what is wrong with it
