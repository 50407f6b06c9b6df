"""A store on PostgreSQL: initialised on first use, refused when not ours or newer, migrated in one
transaction, writers taking turns, and one clear line for what goes wrong on the way to the server.

Each test gets a database of its own (the schema itself is what they change), made and dropped
on the server SYNCVIEW_TEST_PG names; without one they skip (tests/pg.py).
"""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from syncview.errors import StoreError
from syncview.services import actions, queries
from syncview.services.seed import seed_demo
from syncview.store import db, open_store, pg as store_pg, raw_connection
from tests.helpers import first, rows
from tests.pg import pg_query, pg_snapshot


@pytest.fixture
def pg_url(pg_server):
    """An empty database of this test's own."""
    url = pg_server.create()
    yield url
    pg_server.drop(url)


def test_an_empty_database_is_made_a_store_on_first_use(pg_url):
    store = open_store(pg_url)
    store.close()
    assert pg_query(pg_url, "SELECT application_id, version FROM syncview_schema") == [
        (db.APPLICATION_ID, db.SCHEMA_VERSION)]
    indexes = {name for (name,) in pg_query(pg_url, "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")}
    assert {"ix_resource_screen", "ix_resource_removed", "ix_resource_name_trgm"} <= indexes
    # Names sort by code point as on SQLite, flags are 0/1.
    collations = dict(pg_query(pg_url, "SELECT column_name, collation_name FROM information_schema.columns"
                                       " WHERE table_name = 'resource' AND data_type = 'character varying'"))
    assert set(collations.values()) == {"C"} and "name_norm" in collations
    assert pg_query(pg_url, "SELECT data_type FROM information_schema.columns WHERE table_name = 'resource'"
                            " AND column_name = 'deleted_remotely'") == [("smallint",)]
    # Opening it again changes nothing.
    before = pg_snapshot(pg_url)
    open_store(pg_url).close()
    assert pg_snapshot(pg_url) == before


def test_a_store_from_a_newer_syncview_is_refused_and_left_alone(pg_url):
    open_store(pg_url).close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE syncview_schema SET version = %s", (db.SCHEMA_VERSION + 1,))
    before = pg_snapshot(pg_url)
    with pytest.raises(StoreError, match=r"newer syncview .*upgrade syncview"):
        open_store(pg_url)
    assert pg_snapshot(pg_url) == before


def test_another_applications_database_is_refused_and_left_alone(pg_url):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE photos (id INTEGER)")
    before = pg_snapshot(pg_url)
    with pytest.raises(StoreError, match="holds tables but is not a syncview store"):
        open_store(pg_url)
    assert pg_snapshot(pg_url) == before


def test_an_older_store_is_migrated_in_one_transaction(pg_url, monkeypatch):
    old = open_store(pg_url)
    with old.write() as conn:
        conn.exec_driver_sql("INSERT INTO client (name, name_norm) VALUES ('Acme Corp', 'acme corp')")
    old.close()

    def add_column(conn):
        conn.exec_driver_sql("ALTER TABLE client ADD COLUMN notes TEXT DEFAULT ''")

    monkeypatch.setattr(db, "SCHEMA_VERSION", db.SCHEMA_VERSION + 1)
    monkeypatch.setitem(db.MIGRATIONS, db.SCHEMA_VERSION - 1, add_column)
    open_store(pg_url).close()
    assert pg_query(pg_url, "SELECT version FROM syncview_schema") == [(db.SCHEMA_VERSION,)]
    assert pg_query(pg_url, "SELECT name, notes FROM client") == [("Acme Corp", "")]


def test_a_failed_migration_leaves_the_store_at_its_old_version(pg_url, monkeypatch):
    open_store(pg_url).close()

    def broken(conn):
        conn.exec_driver_sql("ALTER TABLE client ADD COLUMN notes TEXT")
        conn.exec_driver_sql("SELECT * FROM no_such_table")

    monkeypatch.setattr(db, "SCHEMA_VERSION", db.SCHEMA_VERSION + 1)
    monkeypatch.setitem(db.MIGRATIONS, db.SCHEMA_VERSION - 1, broken)
    with pytest.raises(StoreError):
        open_store(pg_url)
    assert pg_query(pg_url, "SELECT version FROM syncview_schema") == [(db.SCHEMA_VERSION - 1,)]
    assert not pg_query(pg_url, "SELECT 1 FROM information_schema.columns WHERE table_name = 'client'"
                                " AND column_name = 'notes'")


def test_a_writer_waits_for_another_then_says_the_store_is_busy(pg_url, monkeypatch):
    monkeypatch.setattr(db, "BUSY_TIMEOUT_S", 0.3)
    store = open_store(pg_url)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with store.write():
            holding.set()
            release.wait(5)

    other = threading.Thread(target=hold)
    other.start()
    try:
        holding.wait(5)
        started = time.monotonic()
        with pytest.raises(StoreError, match="busy with another syncview writer"), store.write() as conn:
            conn.exec_driver_sql("INSERT INTO client (name, name_norm) VALUES ('x', 'x')")
        assert time.monotonic() - started >= 0.25
    finally:
        release.set()
        other.join()
    assert pg_query(pg_url, "SELECT count(*) FROM client") == [(0,)]
    store.close()


def test_ids_given_by_a_bulk_writer_never_collide_with_the_next_insert(pg_url):
    store = open_store(pg_url)
    seed_demo(store, 300)  # clients, records and resources get their ids from the seeder
    with store.write() as conn:
        conn.exec_driver_sql("INSERT INTO client (name, name_norm) VALUES ('Next', 'next')")
    [(top,)] = rows(store, "SELECT max(id) FROM client")
    assert rows(store, "SELECT name FROM client WHERE id = ?", top) == [("Next",)]
    store.close()


def test_a_bulk_seed_leaves_the_planner_statistics_and_the_covering_indexes_usable(pg_url):
    """After the demo's bulk load the tables are analysed (the planner knows their size) and
    vacuumed (the visibility map lets index-only scans skip the rows); the removed-remotely
    index carries the client."""
    store = open_store(pg_url)
    seed_demo(store, 300)
    stats = dict(rows(store, "SELECT relname, reltuples > 0 AND relallvisible > 0 FROM pg_class"
                             " WHERE relname IN ('resource', 'resource_key', 'record')"))
    assert stats == {"resource": True, "resource_key": True, "record": True}
    [(definition,)] = rows(store, "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_resource_removed'")
    assert "client_id" in definition and "deleted_remotely = 1" in definition
    store.close()


def test_a_connection_lost_mid_action_rolls_it_back_and_says_so(pg_url):
    store = open_store(pg_url)
    seed_demo(store, 300)
    resource = first(store, status=queries.SyncStatus.NOT_SYNCED)
    before = pg_snapshot(pg_url)
    with pytest.raises(StoreError, match=r"lost the connection to the PostgreSQL server .*rolled back"):
        with store.write() as conn:
            raw_connection(conn).execute("UPDATE resource SET status = 'excluded' WHERE id = ?", (resource.id,))
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            with psycopg.connect(pg_url, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            conn.exec_driver_sql("SELECT 1")
    assert pg_snapshot(pg_url) == before
    # The pool replaces the dead connection: the next action works.
    actions.exclude(store, resource.id)
    assert queries.get_resource(store, resource.id).status is queries.SyncStatus.EXCLUDED
    store.close()


@pytest.mark.parametrize(("url", "says"), [
    ("postgresql://postgres@127.0.0.1:1/x", r"cannot reach the PostgreSQL server 127.0.0.1:1 \(connection refused\)"),
    ("postgresql://postgres@127.0.0.1:5432/syncview_no_such_db", "has no database 'syncview_no_such_db'"),
    ("postgresql://syncview_no_such_user@127.0.0.1:5432/test", "has no user 'syncview_no_such_user'"),
    ("postgresql://postgres@127.0.0.1:port/x", "is not a PostgreSQL URL syncview can read"),
    ("postgresql://postgres@127.0.0.1:5432", "names no database"),
    ("mysql://root@127.0.0.1/x", "is not a PostgreSQL URL syncview can read"),
    ("postgresql://postgres@no-such-host.invalid/x", "cannot find the PostgreSQL server no-such-host.invalid"),
])
def test_what_keeps_a_store_from_opening_is_one_line(pg_server, url, says):
    with pytest.raises(StoreError, match=says) as raised:
        open_store(url)
    assert "\n" not in str(raised.value)


def test_the_translation_of_server_errors_names_what_to_do():
    shown = "postgresql://alice:***@db.example:5433/team"
    line = str(store_pg.translate_pg(psycopg.OperationalError(
        'connection to server at "db.example", port 5433 failed: FATAL:  password authentication failed for user '
        '"alice"'), shown))
    assert line.startswith("the PostgreSQL server db.example:5433 refused the login of 'alice'") and "PGPASSWORD" in line


def test_a_first_sync_into_an_empty_store_gives_the_planner_statistics_as_it_goes(pg_url):
    """Without them every page of a first sync is planned as if the tables were empty (a 60,000
    item RMM sync took 142 s against 6 s on SQLite); the engine analyses a table as it doubles."""
    from syncview.connectors.demo import DemoConnector
    from syncview.services.sync import sync_connector

    store = open_store(pg_url)
    try:
        assert pg_query(pg_url, "SELECT count(*) FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL") == [(0,)]
        report = sync_connector(store, DemoConnector("PSA", {"flavour": "psa", "resources": 8_000}), create_missing=True)
        assert report.ok and report.counts.created > 2_000
    finally:
        store.close()
    analysed = {name for (name,) in pg_query(
        pg_url, "SELECT relname FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL")}
    assert {"resource", "record"} <= analysed, analysed
