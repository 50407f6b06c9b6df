"""Telling an open screen that another connection changed the store: one small interface, one
implementation per engine.

A :class:`ChangeWatcher` answers one question, "has anyone else committed since I last asked?",
waiting up to a timeout for the answer. It holds a connection of its own, so it never takes one
from the pool the screen's reads and the actions use.

- SQLite: ``PRAGMA data_version`` on that connection changes exactly when *another* connection
  (of this process or any other on the box) has committed; polling it costs a few microseconds
  and takes no lock.
- PostgreSQL: ``LISTEN`` on :data:`CHANNEL`; every write transaction (:meth:`Store.write`: actions,
  undo, each page a sync commits) sends a ``NOTIFY`` on it (:func:`notify`), which the server
  delivers to every listener on every machine when, and only if, that transaction commits.

A watcher whose connection is lost raises :class:`~syncview.errors.StoreError`; the caller drops it
and opens a new one when the store is back (:func:`watch`).
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from syncview.errors import StoreError
from syncview.store.db import Store, connect

#: The PostgreSQL channel every write notifies and every watcher listens on.
CHANNEL = "syncview_changes"
#: How often the SQLite watcher reads ``data_version`` while it waits.
POLL_S = 0.2


class ChangeWatcher(Protocol):
    """Whether the store changed under another connection since the last call."""

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a change; True as soon as there was one (since the
        previous call, or the watcher's start), False when the time ran out without one.
        Raises StoreError when the store cannot be reached."""
        ...

    def close(self) -> None:
        """Let go of the watcher's connection."""
        ...


class SqliteChanges:
    """:class:`ChangeWatcher` over ``PRAGMA data_version`` on a connection of its own."""

    def __init__(self, store: Store, *, poll: float = POLL_S) -> None:
        self._poll = poll
        try:
            self._conn = connect(Path(store.path), read_only=True, check_same_thread=False)
            self._conn.isolation_level = None  # no transaction held open: each PRAGMA sees the latest commit
            self._seen = self._version()
        except sqlite3.Error as error:
            raise StoreError(f"cannot watch the store {store.path} for changes: {error}") from None

    def _version(self) -> int:
        row = self._conn.execute("PRAGMA data_version").fetchone()
        return int(row[0])

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            try:
                version = self._version()
            except sqlite3.Error as error:
                raise StoreError(f"lost the store: {error}") from None
            if version != self._seen:
                self._seen = version
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(self._poll, left))

    def close(self) -> None:
        self._conn.close()


class PostgresChanges:
    """:class:`ChangeWatcher` over ``LISTEN`` on a connection taken out of the pool for good (it
    is discarded, not returned, when the watcher closes: a listening session is no one else's)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        try:
            self._conn = store.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            self._driver: Any = self._conn.connection.driver_connection
            self._conn.exec_driver_sql(f"LISTEN {CHANNEL}")
        except DBAPIError as error:
            raise StoreError(f"cannot watch the store for changes: {_first_line(error)}") from None

    def wait(self, timeout: float) -> bool:
        try:
            # Every notification waiting is taken: a burst of commits is one change to the screen.
            changed = any(True for _ in self._driver.notifies(timeout=timeout, stop_after=1))
            if changed:
                for _ in self._driver.notifies(timeout=0.01):
                    pass
            return changed
        except Exception as error:  # psycopg's OperationalError: the server went away
            if self._driver.closed or type(error).__module__.startswith("psycopg"):
                raise StoreError(f"lost the store: {_first_line(error)}") from None
            raise

    def close(self) -> None:
        try:
            self._conn.invalidate()
        finally:
            self._conn.close()


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def watch(store: Store) -> ChangeWatcher:
    """A watcher of ``store`` on a connection of its own, for its engine."""
    if store.engine.dialect.name == "postgresql":
        return PostgresChanges(store)
    return SqliteChanges(store)



def notify(conn: Connection) -> None:
    """Tell every watcher, once the write transaction on ``conn`` commits, that the store changed
    (PostgreSQL folds one transaction's identical notifications into one)."""
    conn.exec_driver_sql(f"NOTIFY {CHANNEL}")
