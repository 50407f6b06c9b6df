"""The store file: creation, pragmas, schema versions, migrations and refusals."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import Session, select

from syncview.errors import StoreError
from syncview.store import db, open_store
from syncview.store.models import Client, Integration, Record, Resource
from tests.helpers import sqlite_only

DATA = Path(__file__).with_name("data")


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@sqlite_only
def test_new_store_has_wal_foreign_keys_and_schema_version(store):
    with store.read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == int(db.BUSY_TIMEOUT_S * 1000)
        assert conn.exec_driver_sql("PRAGMA user_version").scalar() == db.SCHEMA_VERSION
        assert conn.exec_driver_sql("PRAGMA application_id").scalar() == db.APPLICATION_ID
        indexes = {row[0] for row in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"ix_resource_screen", "ix_resource_integration_status_type", "ix_log_integration_time"} <= indexes


def test_rows_round_trip_through_sqlmodel(store):
    now = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
    with Session(store.engine) as session:
        integration = Integration(name="PSA", kind="demo", created_at=now)
        client = Client(name="Acme Corp", name_norm="acme corp")
        session.add_all([integration, client])
        session.flush()
        record = Record(type="device", client_id=client.id, name="ACME-WS-1", name_norm="acme ws 1",
                        created_at=now, updated_at=now)
        session.add(record)
        session.flush()
        session.add(Resource(integration_id=integration.id, type="device", external_id="42", name="ACME-WS-1",
                             name_norm="acme ws 1", client_id=client.id, status="matched", record_id=record.id,
                             payload='{"id": 42}', first_seen=now, last_seen=now))
        session.commit()
    reopened = open_store(store.path)
    with Session(reopened.engine) as session:
        resource = session.exec(select(Resource)).one()
    assert (resource.name, resource.status, resource.last_seen, resource.payload) == (
        "ACME-WS-1", "matched", now, '{"id": 42}')


def test_foreign_keys_are_enforced(store):
    with pytest.raises(StoreError), store.write() as conn:
        conn.exec_driver_sql("INSERT INTO record (type, client_id, name, name_norm, disabled, attributes,"
                             " created_at, updated_at) VALUES ('device', 999, 'x', 'x', 0, '{}', '', '')")


def test_store_from_a_newer_syncview_is_refused_and_left_alone(store_path):
    open_store(store_path).close()
    with sqlite3.connect(store_path) as raw:
        raw.execute(f"PRAGMA user_version = {db.SCHEMA_VERSION + 1}")
    before = digest(store_path)
    with pytest.raises(StoreError, match=r"newer syncview .*upgrade syncview"):
        open_store(store_path)
    assert digest(store_path) == before


def test_older_store_is_migrated_on_open_with_a_backup(store_path, monkeypatch):
    old = open_store(store_path)
    with old.write() as conn:
        conn.exec_driver_sql("INSERT INTO client (name, name_norm) VALUES ('Acme Corp', 'acme corp')")
    old.close()

    def add_column(conn):
        conn.exec_driver_sql("ALTER TABLE client ADD COLUMN notes TEXT DEFAULT ''")

    monkeypatch.setattr(db, "SCHEMA_VERSION", db.SCHEMA_VERSION + 1)
    monkeypatch.setitem(db.MIGRATIONS, db.SCHEMA_VERSION - 1, add_column)
    migrated = open_store(store_path)
    with migrated.read() as conn:
        assert conn.exec_driver_sql("PRAGMA user_version").scalar() == db.SCHEMA_VERSION
        assert conn.exec_driver_sql("SELECT name, notes FROM client").all() == [("Acme Corp", "")]
    backup = store_path.with_name(f"{store_path.name}.schema{db.SCHEMA_VERSION - 1}.bak")
    assert backup.exists()


def test_failed_migration_leaves_the_store_at_its_old_version(store_path, monkeypatch):
    open_store(store_path).close()

    def broken(conn):
        conn.exec_driver_sql("ALTER TABLE client ADD COLUMN notes TEXT")
        conn.exec_driver_sql("SELECT * FROM no_such_table")

    monkeypatch.setattr(db, "SCHEMA_VERSION", db.SCHEMA_VERSION + 1)
    monkeypatch.setitem(db.MIGRATIONS, db.SCHEMA_VERSION - 1, broken)
    with pytest.raises(StoreError):
        open_store(store_path)
    with sqlite3.connect(store_path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == db.SCHEMA_VERSION - 1
        assert "notes" not in [row[1] for row in raw.execute("PRAGMA table_info(client)")]


def test_a_file_that_is_not_sqlite_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database\n")
    with pytest.raises(StoreError, match="not a syncview store"):
        open_store(path)
    assert path.read_text() == "these are my notes, not a database\n"


def test_another_applications_sqlite_file_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as raw:
        raw.execute("CREATE TABLE photos (id INTEGER)")
    before = digest(path)
    with pytest.raises(StoreError, match="not a syncview store"):
        open_store(path)
    assert digest(path) == before  # not even switched to WAL


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(StoreError, match="is a directory"):
        open_store(tmp_path)


def test_a_lock_held_by_another_process_is_waited_for_then_reported(store_path, monkeypatch):
    monkeypatch.setattr(db, "BUSY_TIMEOUT_S", 0.2)
    store = open_store(store_path)
    other = sqlite3.connect(store_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreError, match="locked by another syncview process"):
            with store.write() as conn:
                conn.exec_driver_sql("INSERT INTO client (name, name_norm) VALUES ('x', 'x')")
    finally:
        other.execute("ROLLBACK")
        other.close()
    with store.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM client").scalar() == 0


def test_a_schema_2_store_is_migrated_to_the_current_schema_keeping_its_data(tmp_path):
    """store-v2.db was written by the schema-2 code (tests/unit/data/make_v2_store.py)."""
    path = tmp_path / "old.db"
    shutil.copy(DATA / "store-v2.db", path)
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == 2
        before = raw.execute("SELECT id, name, status, record_id, client_id FROM resource ORDER BY id").fetchall()
        counts_before = raw.execute("SELECT * FROM resource_count ORDER BY 1, 2, 3, 4").fetchall()
    store = open_store(path)
    with store.read() as conn:
        assert conn.exec_driver_sql("PRAGMA user_version").scalar() == db.SCHEMA_VERSION  # through 3, to today's
        assert conn.exec_driver_sql("SELECT count(*) FROM rate_lease").scalar() == 0  # schema 4
        after = conn.exec_driver_sql("SELECT id, name, status, record_id, client_id FROM resource ORDER BY id").all()
        assert [tuple(r) for r in after] == before
        how = dict(conn.exec_driver_sql(
            "SELECT coalesce(matched_on, '-'), count(*) FROM resource GROUP BY 1").all())
        operator = conn.exec_driver_sql(
            "SELECT r.matched_on FROM resource r JOIN audit_event a ON a.resource_id = r.id"
            " WHERE a.operator = 'ana'").scalar()
        assert [tuple(r) for r in conn.exec_driver_sql("SELECT * FROM resource_count ORDER BY 1, 2, 3, 4")] \
            == counts_before
        assert conn.exec_driver_sql("SELECT count(*) FROM resource_key").scalar() == 0
    assert operator == "operator"
    assert how["name"] + how.get("operator", 0) == sum(1 for r in before if r[2] == "matched")
    assert how["-"] == sum(1 for r in before if r[2] != "matched")
    assert path.with_name("old.db.schema2.bak").exists()
    # The migrated store syncs: the keys tables and new columns are in use.
    from syncview.domain import IdentityKeys, RemoteItem, ResourceType
    from syncview.services.sync import sync_connector
    from tests.unit.test_sync import Scripted
    item = RemoteItem(ResourceType.DEVICE, "new-1", "NEW-1", None, {}, IdentityKeys(serial="SER-0001"))
    sync_connector(store, Scripted([[item]], name="migrated"))
    with store.read() as conn:
        assert conn.exec_driver_sql("SELECT kind, value FROM resource_key").all() == [("serial", "SER-0001")]
        assert conn.exec_driver_sql("SELECT reason FROM resource WHERE external_id = 'new-1'").scalar() \
            == "its remote company matches no local client"
    store.close()
