"""An offline copy written table by table (the way a PostgreSQL store is backed up to SQLite):
the same rows, counts and name index as the store it copies, and replayable back."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlmodel import SQLModel

from syncview.domain import SyncStatus
from syncview.errors import StoreError
from syncview.services import actions, queries
from syncview.services.backup import copy_to_sqlite, inspect_store
from syncview.services.queries import ResourceFilter
from syncview.services.replay import replay
from syncview.store import open_store
from tests.helpers import rows

TABLES = ("integration", "client", "record", "resource", "resource_key", "record_key", "syncrun",
          "sync_log_entry", "audit_event")


def table_rows(store, name: str) -> list[tuple]:
    """A table's rows as the store's types read them (the same on both engines), in key order."""
    table = SQLModel.metadata.tables[name]
    with store.read() as conn:
        return [tuple(row) for row in conn.execute(select(table).order_by(*table.primary_key.columns))]


def test_the_copy_holds_every_row_and_answers_the_screens_queries_alike(demo_store, tmp_path):
    target = tmp_path / "laptop.db"
    facts = copy_to_sqlite(demo_store, target)
    assert facts.path == target and facts.resources == rows(demo_store, "SELECT count(*) FROM resource")[0][0]
    assert not list(tmp_path.glob("laptop.db.partial*"))
    assert inspect_store(target).schema_version == facts.schema_version  # intact, ours
    copy = open_store(target)
    try:
        for table in TABLES:
            assert table_rows(copy, table) == table_rows(demo_store, table), table
        for integration in queries.list_integrations(demo_store):
            assert queries.integration_totals(copy, integration.id) == queries.integration_totals(demo_store, integration.id)
            flt = ResourceFilter(integration.id, text="ws-0")
            assert queries.count_resources(copy, flt) == queries.count_resources(demo_store, flt)
            assert queries.resource_page(copy, flt, limit=20) == queries.resource_page(demo_store, flt, limit=20)
    finally:
        copy.close()


def test_actions_on_the_copy_replay_onto_the_store(demo_store, tmp_path):
    target = tmp_path / "laptop.db"
    copy_to_sqlite(demo_store, target)
    copy = open_store(target)
    matched = queries.resource_page(copy, ResourceFilter(1, status=SyncStatus.MATCHED), limit=1)[0]
    actions.exclude(copy, matched.id, operator="alice")
    copy.close()
    report = replay(demo_store, target)
    assert [a.operator for a in report.applied] == ["alice"] and not report.conflicts
    assert queries.get_resource(demo_store, matched.id).status is SyncStatus.EXCLUDED
    assert replay(demo_store, target).applied == []


def test_an_existing_file_is_kept_without_force(demo_store, tmp_path):
    target = tmp_path / "laptop.db"
    target.write_text("mine")
    with pytest.raises(StoreError, match="already exists; use --force"):
        copy_to_sqlite(demo_store, target)
    assert target.read_text() == "mine"
    copy_to_sqlite(demo_store, target, force=True)
    assert inspect_store(target).resources > 0


def last_analyze(store) -> str:
    """When PostgreSQL last analysed the resource table by request ("" never; "" on SQLite)."""
    if store.engine_name != "postgresql":
        return ""
    [(when,)] = rows(store, "SELECT coalesce(last_analyze::text, '') FROM pg_stat_user_tables"
                             " WHERE relname = 'resource' AND schemaname = current_schema()")
    return when


def test_restore_into_replaces_the_rows_in_one_transaction_keeping_the_previous_ones(demo_store, tmp_path):
    from syncview.services.backup import restore_into

    backup = tmp_path / "monday.db"
    copy_to_sqlite(demo_store, backup)
    expected = {table: table_rows(demo_store, table) for table in TABLES}
    totals = {i.id: queries.integration_totals(demo_store, i.id) for i in queries.list_integrations(demo_store)}
    matched = queries.resource_page(demo_store, ResourceFilter(1, status=SyncStatus.MATCHED), limit=1)[0]
    actions.exclude(demo_store, matched.id, operator="bob")  # after the backup

    previous = tmp_path / "before.db"
    analysed_before = last_analyze(demo_store)
    report = restore_into(demo_store, backup, previous)
    assert report.previous == previous and report.restored.resources == len(expected["resource"])
    for table in TABLES:
        assert table_rows(demo_store, table) == expected[table], table
    assert {i: queries.integration_totals(demo_store, i) for i in totals} == totals  # counts kept right
    assert queries.count_resources(demo_store, ResourceFilter(1, text="ws-0")) > 0
    if demo_store.engine_name == "postgresql":  # planned for what it holds now, not what it held
        assert last_analyze(demo_store) > analysed_before
    kept = open_store(previous)
    try:
        assert queries.get_resource(kept, matched.id).status is SyncStatus.EXCLUDED  # bob's change, kept aside
    finally:
        kept.close()


def test_restore_into_refuses_what_is_no_store_leaving_the_store(demo_store, tmp_path):
    from syncview.services.backup import restore_into

    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a store at all")
    before = rows(demo_store, "SELECT count(*) FROM resource")
    with pytest.raises(StoreError, match="the store was left as it is"):
        restore_into(demo_store, junk, tmp_path / "before.db")
    assert rows(demo_store, "SELECT count(*) FROM resource") == before
