"""The kept counts and the trigram name index always agree with the resource table itself."""

from __future__ import annotations

import sqlite3

import pytest

from syncview.domain import SyncStatus
from syncview.services import actions, queries
from syncview.services.queries import ResourceFilter
from syncview.store import db, open_store, raw_connection
from tests.helpers import first, rows

RECOUNT = """
SELECT integration_id, coalesce(client_id, 0), type, status, count(*) FROM resource
GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
"""
KEPT = "SELECT integration_id, client_id, type, status, n FROM resource_count WHERE n > 0 ORDER BY 1, 2, 3, 4"


def assert_counts_agree(store) -> None:
    assert rows(store, KEPT) == rows(store, RECOUNT)


def test_counts_agree_after_seeding_and_every_kind_of_action(demo_store):
    assert_counts_agree(demo_store)
    matched = first(demo_store, status=SyncStatus.MATCHED)
    not_synced = first(demo_store, status=SyncStatus.NOT_SYNCED)
    actions.exclude(demo_store, matched.id, disable_record=True)
    actions.include(demo_store, matched.id)
    record = queries.find_records(demo_store, not_synced.type)[0]
    holder = queries.linked_resources(demo_store, not_synced.integration_id, [record.id]).get(record.id)
    if holder:
        actions.exclude(demo_store, holder[0])
    actions.rematch(demo_store, not_synced.id, record.id)  # moves it to the record's client
    assert_counts_agree(demo_store)
    while rows(demo_store, "SELECT 1 FROM audit_event WHERE operator = 'tester' AND action != 'undo' "
                           "AND undone_by IS NULL"):
        actions.undo(demo_store)
    assert_counts_agree(demo_store)
    with demo_store.write() as conn:
        conn.exec_driver_sql("DELETE FROM sync_log_entry WHERE resource_id IN (SELECT id FROM resource LIMIT 50)")
        conn.exec_driver_sql("DELETE FROM audit_event WHERE resource_id IN (SELECT id FROM resource LIMIT 50)")
        conn.exec_driver_sql("DELETE FROM resource_key WHERE resource_id IN (SELECT id FROM resource LIMIT 50)")
        conn.exec_driver_sql("DELETE FROM resource WHERE id IN (SELECT id FROM resource LIMIT 50)")
    assert_counts_agree(demo_store)


def test_counts_after_a_bulk_seed_equal_a_recount_and_the_triggers_count_again(store):
    """A bulk load (on PostgreSQL the triggers stand aside and the loaded integrations are
    recounted once) leaves the counts of every integration right, those it did not load too,
    and the triggers count the next writes, in the same transaction and after it."""
    from syncview.services.seed import seed_demo
    from syncview.store import derived
    from syncview.store.db import db_time, utcnow

    now = db_time(utcnow())
    resource = ("INSERT INTO resource (integration_id, type, external_id, name, name_norm, payload, status,"
                " first_seen, last_seen, deleted_remotely, version) VALUES (1, 'device', ?, ?, ?, '{}', ?, ?, ?, 0, 1)")
    with store.write() as conn:  # another integration's resources, counted row by row
        raw = raw_connection(conn)
        raw.execute("INSERT INTO integration (id, name, kind, created_at) VALUES (1, 'Files', 'files', ?)", (now,))
        raw.executemany(resource, [(f"x{i}", f"PC {i}", f"pc {i}", "not_synced", now, now) for i in range(5)])
    seed_demo(store, 600)
    assert_counts_agree(store)
    assert rows(store, "SELECT sum(n) FROM resource_count WHERE integration_id = 1") == [(5,)]
    with store.write() as conn:
        derived.start_bulk_load(conn)
        raw_connection(conn).execute(resource, ("y1", "PC y1", "pc y1", "excluded", now, now))
        derived.finish_bulk_load(conn, [1])
        raw_connection(conn).execute(resource, ("y2", "PC y2", "pc y2", "matched", now, now))
        raw_connection(conn).execute("UPDATE resource SET status = 'excluded' WHERE external_id = 'x0'")
    with store.write() as conn:
        raw_connection(conn).execute("DELETE FROM resource WHERE external_id = 'x1'")
    assert_counts_agree(store)
    assert rows(store, "SELECT sum(n) FROM resource_count WHERE integration_id = 1") == [(6,)]


def test_totals_and_clients_read_from_counts_match_a_recount(demo_store):
    integration = queries.get_integration(demo_store, "Datto RMM")
    totals = queries.integration_totals(demo_store, integration.id)
    (total,) = rows(demo_store, "SELECT count(*) FROM resource WHERE integration_id = ?", integration.id)[0]
    assert totals.total + totals.removed == total  # live ones, and the removed-remotely ones apart
    # every resource of a client: its live ones and its removed-remotely ones, counted apart
    clients = {c.id: c.resources + c.removed for c in queries.integration_clients(demo_store, integration.id)}
    recount = dict(rows(demo_store, "SELECT coalesce(client_id, 0), count(*) FROM resource "
                                    "WHERE integration_id = ? GROUP BY 1", integration.id))
    assert clients == recount


@pytest.mark.parametrize("text", ["a", "ws", "acm", "ACME", "acme-w", "Corp.", "ws-0", "  lt 02 ", 'x"y',
                                  "zzzzzz", "corporation, inc", "é"])
def test_text_filter_through_the_index_finds_exactly_what_a_scan_finds(demo_store, text):
    from syncview.domain import name_contains, name_search, normalise_name

    for integration in queries.list_integrations(demo_store):
        flt = ResourceFilter(integration.id, text=text)
        # What was typed, in ASCII lower case (SQLite's lower()), punctuation and spaces included.
        expected = [i for i, name in rows(demo_store, "SELECT id, name FROM resource WHERE integration_id = ?",
                                          integration.id) if name_contains(name, name_search(text))]
        assert queries.count_resources(demo_store, flt) == len(expected)
        page = queries.resource_page(demo_store, flt, limit=100_000)
        assert sorted(r.id for r in page) == sorted(expected)
        names = [r.name for r in page]
        assert [normalise_name(n) for n in names] == sorted(normalise_name(n) for n in names)


def test_dense_text_matches_page_in_name_order(demo_store, monkeypatch):
    monkeypatch.setattr(queries, "DENSE_MATCHES", 5)  # force the scan path with the index present
    integration = queries.get_integration(demo_store, "ConnectWise Manage")
    flt = ResourceFilter(integration.id, text="acme")
    page = queries.resource_page(demo_store, flt, limit=20)
    monkeypatch.setattr(queries, "DENSE_MATCHES", 10**9)
    assert page == queries.resource_page(demo_store, flt, limit=20)


def test_renamed_resource_is_found_by_its_new_name_only(demo_store):
    resource = first(demo_store)
    with demo_store.write() as conn:
        raw_connection(conn).execute("UPDATE resource SET name = 'Zebra Unique', name_norm = 'zebra unique'"
                                     " WHERE id = ?", (resource.id,))
    flt = ResourceFilter(resource.integration_id, text="zebra uni")
    assert [r.id for r in queries.resource_page(demo_store, flt)] == [resource.id]
    old = ResourceFilter(resource.integration_id, text=resource.name)
    assert resource.id not in [r.id for r in queries.resource_page(demo_store, old, limit=10_000)]


def test_a_version_1_store_is_migrated_with_counts_and_index_backfilled(demo_store, store_path):
    demo_store.close()
    with sqlite3.connect(store_path) as raw:  # make it exactly what schema 1 was
        for trigger in ("resource_count_insert", "resource_count_delete", "resource_count_update",
                        "resource_name_insert", "resource_name_delete", "resource_name_update"):
            raw.execute(f"DROP TRIGGER {trigger}")
        raw.execute("DROP TABLE resource_count")
        raw.execute("DROP TABLE resource_name")
        raw.execute("DROP TABLE meta")
        for table in ("resource_key", "record_key"):  # and what schema 3 added
            raw.execute(f"DROP TABLE {table}")
        for column in ("matched_on", "reason", "reason_kind"):
            raw.execute(f"ALTER TABLE resource DROP COLUMN {column}")
        raw.execute("DROP INDEX ix_resource_removed")  # schema 3
        raw.execute("DROP TABLE rate_lease")  # schema 4
        raw.execute("DROP TABLE flight_lease")
        raw.execute("PRAGMA user_version = 1")
    migrated = open_store(store_path)
    assert rows(migrated, "PRAGMA user_version") == [(db.SCHEMA_VERSION,)]
    assert rows(migrated, "SELECT count(*) FROM sqlite_master WHERE name = 'ix_resource_removed'") == [(1,)]
    assert "ix_resource_removed" in str(rows(migrated, "EXPLAIN QUERY PLAN SELECT count(*) FROM resource "
                                                 "WHERE integration_id = 1 AND deleted_remotely = 1"))
    assert store_path.with_name(f"{store_path.name}.schema1.bak").exists()
    assert_counts_agree(migrated)
    integration = queries.get_integration(migrated, "ConnectWise Manage")
    flt = ResourceFilter(integration.id, text="acme")
    (expected,) = rows(migrated, "SELECT count(*) FROM resource WHERE integration_id = ? "
                                 "AND instr(name_norm, 'acme') > 0", integration.id)[0]
    assert queries.count_resources(migrated, flt) == expected > 0
    migrated.close()


def test_a_version_3_store_gets_the_removed_index_with_the_client(demo_db, engine):
    """Schema 4: the removed-remotely index holds the client, and the counts read through it agree."""
    old = open_store(demo_db)
    with old.write() as conn:  # the index as schema 3 made it
        conn.exec_driver_sql("DROP INDEX ix_resource_removed")
        conn.exec_driver_sql("CREATE INDEX ix_resource_removed ON resource (integration_id, status, type)"
                             " WHERE deleted_remotely = 1")
        conn.exec_driver_sql("PRAGMA user_version = 3" if engine == "sqlite" else "UPDATE syncview_schema SET version = 3")
    old.close()
    migrated = open_store(demo_db)
    definition = {"sqlite": "SELECT sql FROM sqlite_master WHERE name = 'ix_resource_removed'",
                  "postgresql": "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_resource_removed'"}[engine]
    assert "client_id" in rows(migrated, definition)[0][0]
    integration = queries.get_integration(migrated, "Datto RMM")
    removed = {c.id: c.removed for c in queries.integration_clients(migrated, integration.id) if c.removed}
    recount = dict(rows(migrated, "SELECT coalesce(client_id, 0), count(*) FROM resource WHERE integration_id = ?"
                                  " AND deleted_remotely = 1 GROUP BY 1", integration.id))
    assert removed == recount and removed
    migrated.close()


#: Names whose filters differ by engine if anything does: accents, other scripts, case outside
#: ASCII, a ligature NFKC splits, punctuation, LIKE's and FTS's own special characters.
ODD_NAMES = ["Ærøskøbing Café", "ÉCOLE Saint-Éloi", "école du Nord", "Straße 12", "STRASSE 12", "İstanbul Ofis",
             "日本語サーバ 01", "ﬁnance-PC", "Finance PC", "100% uptime", "under_score", "back\\slash", 'quote"d',
             "ab", "a", "Ωmega", "zz-top", "Zz Top", "emoji 🚀 rack"]


ODD_TEXTS = ["a", "ab", "é", "É", "caf", "ß", "ss", "日本", "本語サ", "fi", "ﬁn", "%", "_", "\\", '"', "100%", "under_",
             "ωmega", "Ω", "🚀", "top", "ZZ", "st", "ra"]


def _odd_store(location):
    from syncview.domain import normalise_name
    from syncview.store.db import db_time, utcnow

    store = open_store(location)
    now = db_time(utcnow())
    with store.write() as conn:
        raw = raw_connection(conn)
        raw.execute("INSERT INTO integration (id, name, kind, created_at) VALUES (1, 'Files', 'files', ?)", (now,))
        raw.executemany(
            "INSERT INTO resource (id, integration_id, type, external_id, name, name_norm, payload, status,"
            " first_seen, last_seen, deleted_remotely, version) VALUES (?, 1, 'device', ?, ?, ?, '{}',"
            " 'not_synced', ?, ?, 0, 1)",
            [(i, str(i), name, normalise_name(name), now, now) for i, name in enumerate(ODD_NAMES, start=1)])
    return store


def test_odd_names_filter_and_sort_the_same_on_both_engines(tmp_path, pg_server):
    """The same filters over the same names answer the same rows in the same order on SQLite and
    PostgreSQL (both ways round, counted and paged); each finds every name holding the typed text."""
    from syncview.domain import name_contains, name_search

    url = pg_server.create()
    lite, pg = _odd_store(tmp_path / "odd.db"), _odd_store(url)
    try:
        for text in ODD_TEXTS:
            flt = ResourceFilter(1, text=text)
            answers = [(queries.count_resources(store, flt),
                        [r.id for r in queries.resource_page(store, flt, limit=100)],
                        [r.id for r in queries.resource_page(store, flt, limit=100, descending=True)],
                        [r.id for r in queries.resource_page(store, flt, offset=1, limit=2)])
                       for store in (lite, pg)]
            assert answers[0] == answers[1], text
            holding = {i for i, n in enumerate(ODD_NAMES, start=1) if name_contains(n, name_search(text))}
            assert holding <= set(answers[0][1]), text
            assert answers[0][0] == len(answers[0][1]) and answers[0][2] == answers[0][1][::-1]
    finally:
        lite.close()
        pg.close()
        pg_server.drop(url)
