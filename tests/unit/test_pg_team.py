"""The team-store pieces on PostgreSQL, at the level of the engine: the change watcher (LISTEN)
and the sync lock (advisory locks), each against a real server and a database of its own."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from syncview.errors import StoreError
from syncview.store.changes import CHANNEL, watch
from syncview.store import open_store
from syncview.store.db import Store
from syncview.store.locks import sync_lock_free, try_sync_lock

@pytest.fixture
def pg_store(pg_server):
    """A PostgreSQL store of this test's own (its sessions are ended on purpose)."""
    url = pg_server.create()
    store = open_store(url)
    yield store
    store.close()
    pg_server.drop(url)


def _terminate(store: Store, application: str | None = None) -> None:
    """End every other session on the store's database, as a server restart would."""
    with store.engine.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database()"
                          " AND pid <> pg_backend_pid()"))
        conn.commit()


def test_the_watcher_wakes_on_another_sessions_commit_only(pg_store):
    watcher = watch(pg_store)
    try:
        assert watcher.wait(0.2) is False
        with pg_store.engine.connect() as conn:
            conn.execute(text(f"NOTIFY {CHANNEL}"))
            assert watcher.wait(0.3) is False  # not committed yet: nothing delivered
            conn.commit()
        assert watcher.wait(5) is True
        assert watcher.wait(0.2) is False  # one commit, one change
    finally:
        watcher.close()


def test_a_lost_connection_is_a_store_error_and_a_new_watcher_works(pg_store):
    watcher = watch(pg_store)
    _terminate(pg_store)
    with pytest.raises(StoreError, match="lost the store"):
        for _ in range(20):
            watcher.wait(0.1)
    watcher.close()
    again = watch(pg_store)
    try:
        with pg_store.engine.connect() as conn:
            conn.execute(text(f"NOTIFY {CHANNEL}"))
            conn.commit()
        assert again.wait(5) is True
    finally:
        again.close()


def test_the_sync_lock_is_one_holders_and_freed_by_release_or_a_dead_session(pg_store):
    first = try_sync_lock(pg_store, 7)
    assert first is not None and first.exclusive
    assert try_sync_lock(pg_store, 7) is None  # another session (another machine) is refused
    other = try_sync_lock(pg_store, 8)  # another integration's is its own
    assert other is not None
    with pg_store.engine.connect() as conn:
        assert sync_lock_free(conn, 7) is False and sync_lock_free(conn, 9) is True
    first.release()
    first.release()  # twice is harmless
    with pg_store.engine.connect() as conn:
        assert sync_lock_free(conn, 7) is True
    _terminate(pg_store)  # the holder of 8 dies (a killed process, a lost network)
    with pg_store.engine.connect() as conn:
        assert sync_lock_free(conn, 8) is True
    other.release()  # its session is gone: nothing to do, no error
    assert try_sync_lock(pg_store, 8) is not None
