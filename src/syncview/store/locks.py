"""The lock that keeps two syncs of one integration apart, from any process on any machine.

- PostgreSQL: a session advisory lock, ``pg_try_advisory_lock(SYNV, integration id)``, held on a
  connection of its own for the whole run. The server holds it for whichever machine asked, and
  lets go by itself when that session ends, a killed process or a lost network included: no
  lock is ever left behind.
- SQLite: the store lives on one machine, and the run's ``running in process N on HOST`` row is
  the lock (a process that is gone holds nothing); :func:`try_sync_lock` has nothing to add and
  :func:`sync_lock_free` says it cannot tell, so the sync engine asks the process table.

The sync engine (services/sync.py) takes the lock before it opens a run and releases it after it
closed the run, and counts a ``running`` run as abandoned only when its lock is free.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from syncview.errors import StoreError
from syncview.store.db import Store

#: The first key of every syncview advisory lock ("SYNV"); the second is the integration's id.
LOCK_CLASS = 0x53594E56


class SyncLock(Protocol):
    """A sync's hold on its integration; :meth:`release` lets go (once; later calls do nothing)."""

    #: True when no other session can hold it meanwhile (so a run marked running is dead)
    exclusive: bool

    def release(self) -> None: ...


class _Held:
    """The lock on PostgreSQL: the session that took it, kept out of the pool until released."""

    exclusive = True

    def __init__(self, conn: Connection, integration_id: int) -> None:
        self._conn: Connection | None = conn
        self._integration_id = integration_id

    def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.execute(text("SELECT pg_advisory_unlock(:c, :i)"), {"c": LOCK_CLASS, "i": self._integration_id})
        except DBAPIError:
            conn.invalidate()  # the session is gone, and the lock with it
        finally:
            conn.close()


class _Local:
    """The lock on SQLite: nothing beyond the run's own row (see the module docstring)."""

    exclusive = False

    def release(self) -> None:
        return None


def try_sync_lock(store: Store, integration_id: int) -> SyncLock | None:
    """Take the sync lock of ``integration_id`` if no one holds it; None if someone does."""
    if store.engine.dialect.name != "postgresql":
        return _Local()
    try:
        conn = store.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    except DBAPIError as error:
        raise StoreError(f"cannot take the sync lock: {str(error.orig).strip().splitlines()[0]}") from None
    try:
        taken = conn.execute(text("SELECT pg_try_advisory_lock(:c, :i)"),
                             {"c": LOCK_CLASS, "i": integration_id}).scalar()
    except BaseException:
        conn.invalidate()
        conn.close()
        raise
    if taken:
        return _Held(conn, integration_id)
    conn.close()
    return None


def sync_lock_free(conn: Connection, integration_id: int) -> bool | None:
    """Whether no session holds the sync lock of ``integration_id``, asked on ``conn`` (which must
    not hold it itself); None where the engine cannot tell (SQLite)."""
    if conn.dialect.name != "postgresql":
        return None
    # pg_locks shows every session's advisory locks, from every machine; no lock is taken to look.
    held = conn.execute(text(
        "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid::bigint = :c AND objid::bigint = :i"
        " AND objsubid = 2 AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    ), {"c": LOCK_CLASS, "i": integration_id}).first()
    return held is None


def running_syncs(conn: Connection) -> list[tuple[str, str]]:
    """(integration name, "run N, process P on HOST") of each integration whose sync lock some
    session holds now, from any machine (PostgreSQL; SQLite: none can be told this way)."""
    if conn.dialect.name != "postgresql":
        return []
    rows = conn.execute(text(
        "SELECT i.name, r.id, r.message FROM integration i"
        " JOIN pg_locks l ON l.locktype = 'advisory' AND l.classid::bigint = :c AND l.objid::bigint = i.id"
        "  AND l.objsubid = 2 AND l.granted"
        "  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        " LEFT JOIN syncrun r ON r.integration_id = i.id AND r.outcome = 'running'"
        " ORDER BY i.name, r.id DESC"), {"c": LOCK_CLASS}).all()
    found: dict[str, str] = {}
    for name, run_id, message in rows:
        if name not in found:
            where = (message or "").removeprefix("running ").strip()
            found[name] = f"run {run_id}, {where}" if run_id is not None else "starting"
    return list(found.items())
