"""The screen's queries, each checked against plain SQL over the same demo store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import os
import shutil
import subprocess

import pytest

from syncview.domain import FOLD_SQL_POSTGRES, ResourceType, SyncStatus, fold_case, normalise_name
from syncview.errors import NotFoundError
from syncview.services import bulk, queries
from syncview.services.queries import NO_CLIENT, ResourceFilter
from syncview.store import raw_connection
from tests.helpers import rows
from tests.tui.test_hostile_text import INTEGRATION, sync_names

PSA, RMM = "ConnectWise Manage", "Datto RMM"


def iid(store, name: str) -> int:
    return queries.get_integration(store, name).id


def sql_time(value: str | datetime) -> datetime:
    """A time read by raw SQL: text on SQLite, a (naive UTC) datetime on PostgreSQL."""
    return (value if isinstance(value, datetime) else datetime.fromisoformat(value)).replace(tzinfo=UTC)


def all_resources(store, integration_id: int) -> list[dict]:
    """Every resource of an integration as plain dicts, for filtering in Python."""
    names = ("id", "type", "status", "client_id", "name", "name_norm")
    return [dict(zip(names, r, strict=True)) for r in rows(
        store, "SELECT id, type, status, client_id, name, name_norm FROM resource WHERE integration_id = ?",
        integration_id)]


# --- integrations and totals ------------------------------------------------------------------------

def test_integrations_with_their_last_successful_sync(demo_store):
    found = queries.list_integrations(demo_store)
    assert [(i.name, i.kind) for i in found] == [(PSA, "demo"), (RMM, "demo")]
    for integration in found:
        [(ended,)] = rows(demo_store, "SELECT max(ended_at) FROM syncrun WHERE integration_id = ? "
                                      "AND outcome = 'success'", integration.id)
        assert integration.last_synced_at == sql_time(ended)
        assert integration.last_outcome == "success" and integration.last_run_at == sql_time(ended)
        assert integration.last_run_words(now=sql_time(ended) + timedelta(minutes=4)) == "Synced 4 min ago"


def test_a_failed_last_run_comes_first_and_the_last_success_is_kept(demo_store):
    integration_id = iid(demo_store, PSA)
    [(success,)] = rows(demo_store, "SELECT max(ended_at) FROM syncrun WHERE integration_id = ?", integration_id)
    failed_at = sql_time(success) + timedelta(hours=1)
    with demo_store.write() as conn:
        raw_connection(conn).execute(
            "INSERT INTO syncrun (integration_id, started_at, ended_at, outcome, fetched, created, matched,"
            " not_synced, removed, message) VALUES (?, ?, ?, 'failed', 0, 0, 0, 0, 0, 'the API answered 401')",
            (integration_id, failed_at.replace(tzinfo=None), failed_at.replace(tzinfo=None)))
    integration = queries.get_integration(demo_store, PSA)
    assert integration.last_outcome == "failed" and integration.last_run_failed
    assert integration.last_run_at == failed_at and integration.last_message == "the API answered 401"
    assert integration.last_synced_at == sql_time(success)
    later = failed_at + timedelta(seconds=10)
    assert integration.last_run_words(now=later) == "Failed just now"
    assert integration.last_success_words(now=later) == "Last success 1 h ago"


def test_get_integration_ignores_case_and_lists_the_known_ones(demo_store):
    assert queries.get_integration(demo_store, "datto rmm").name == RMM
    with pytest.raises(NotFoundError, match="known integrations: 'ConnectWise Manage', 'Datto RMM'"):
        queries.get_integration(demo_store, "Kaseya")


def test_get_integration_on_an_empty_store_says_how_to_get_one(store):
    with pytest.raises(NotFoundError, match="syncview demo"):
        queries.get_integration(store, "anything")


@pytest.mark.parametrize("name", [PSA, RMM])
def test_totals_count_the_live_resources_and_the_removed_ones_apart(demo_store, name):
    totals = queries.integration_totals(demo_store, iid(demo_store, name))
    by_status = dict(rows(demo_store, "SELECT status, count(*) FROM resource WHERE integration_id = ? "
                                      "AND deleted_remotely = 0 GROUP BY status", iid(demo_store, name)))
    by_type = dict(rows(demo_store, "SELECT type, count(*) FROM resource WHERE integration_id = ? "
                                    "AND deleted_remotely = 0 GROUP BY type", iid(demo_store, name)))
    [(removed,)] = rows(demo_store, "SELECT count(*) FROM resource WHERE integration_id = ? AND deleted_remotely = 1",
                        iid(demo_store, name))
    assert removed > 0  # the demo has some, or this test would not tell the two apart
    assert totals.by_status == {s: by_status.get(s.value, 0) for s in SyncStatus}
    assert totals.by_type == {t: by_type.get(t.value, 0) for t in ResourceType}
    assert totals.total == sum(by_status.values()) == sum(totals.by_type.values())
    assert totals.removed == removed


def test_totals_of_an_integration_without_resources_are_zero(demo_store):
    assert queries.integration_totals(demo_store, 999).total == 0


def test_clients_of_an_integration_by_name_with_the_unmatched_last(demo_store):
    clients = queries.integration_clients(demo_store, iid(demo_store, PSA))
    # live resources, as the tiles count them, and the removed-remotely ones apart
    expected = {client: (live, removed) for client, live, removed in rows(
        demo_store, "SELECT coalesce(client_id, 0), sum(1 - deleted_remotely), sum(deleted_remotely) FROM resource "
                    "WHERE integration_id = ? GROUP BY client_id", iid(demo_store, PSA))}
    assert {c.id: (c.resources, c.removed) for c in clients} == expected
    assert any(c.removed for c in clients)
    assert clients[-1].id == NO_CLIENT and clients[-1].name == "(no local client)"
    named = [c.name.casefold() for c in clients[:-1]]
    assert named == sorted(named)


def test_the_rmm_sees_every_client_and_none_unmatched(demo_store):
    clients = queries.integration_clients(demo_store, iid(demo_store, RMM))
    assert NO_CLIENT not in {c.id for c in clients}
    assert len(clients) == rows(demo_store, "SELECT count(*) FROM client")[0][0]


# --- filters ----------------------------------------------------------------------------------------

def filtered(store, flt: ResourceFilter) -> list[int]:
    return [r.id for r in queries.resource_page(store, flt, limit=100_000, sort="name")]


@pytest.mark.parametrize("text", ["acme", "ACME-ws", "acme-", " - ", "Acme Corp -", "lt-0", "LT-", "ws-00", "x"])
def test_text_filter_matches_what_was_typed_punctuation_included_in_any_case(demo_store, text):
    integration = iid(demo_store, PSA)
    flt = ResourceFilter(integration, text=text)
    expected = {r["id"] for r in all_resources(demo_store, integration) if text.lower() in r["name"].lower()}
    assert set(filtered(demo_store, flt)) == expected
    assert queries.count_resources(demo_store, flt) == len(expected)
    assert {r.id for r in queries.iter_resources(demo_store, flt)} == expected
    if text in ("acme-", " - "):  # the cases: these found names without the punctuation
        every = {r["id"] for r in all_resources(demo_store, integration) if normalise_name(text) in r["name_norm"]}
        assert expected and expected < every


#: Names whose letters change with case beyond ASCII, synced for real by the files connector.
CASED = ["École Saint-Exupéry", "ÉCOLE NORMALE", "école-42", "Straße 12", "STRASSE-9", "Hauptstrasse 3",
         "Σίσυφος-PC", "ΣΊΣΥΦΟΣ", "Ecole sans accent", "Acme"]


@pytest.mark.parametrize(("texts", "expected"), [
    (["ÉCOLE", "école", "École", "éCoLe"], {"École Saint-Exupéry", "ÉCOLE NORMALE", "école-42"}),
    (["ÉCOLE-", "école-"], {"école-42"}),
    (["STRASSE", "Straße", "strasse", "STRAẞE"], {"Straße 12", "STRASSE-9", "Hauptstrasse 3"}),
    (["straße-", "STRASSE-"], {"STRASSE-9"}),
    (["σίσυφος", "ΣΊΣΥΦΟΣ", "Σίσυφος"], {"Σίσυφος-PC", "ΣΊΣΥΦΟΣ"}),
    (["ΣΊΣΥΦΟΣ-pc"], {"Σίσυφος-PC"}),
    (["ecole"], {"Ecole sans accent"}),  # accents are letters: "ecole" is not "école"
])
def test_text_filter_ignores_case_beyond_ascii_the_same_in_every_query(store, tmp_path, texts, expected):
    sync_names(store, tmp_path, CASED)
    integration = queries.get_integration(store, INTEGRATION).id
    everything = queries.resource_page(store, ResourceFilter(integration), limit=100)
    for text in texts:
        flt = ResourceFilter(integration, text=text)
        found = queries.resource_page(store, flt, limit=100)
        assert {r.name for r in found} == expected, text
        assert queries.count_resources(store, flt) == len(expected), text
        assert {r.name for r in queries.iter_resources(store, flt)} == expected, text
        assert {r.name for r in everything if bulk.matches(flt, r)} == expected, text  # the marks' test


def test_postgresql_folds_names_as_python_does():
    """FOLD_SQL_POSTGRES gives PostgreSQL the same "any case" as domain.fold_case, so a
    PostgreSQL store filters names as a SQLite one does (checked on the real server)."""
    psql = shutil.which("psql")
    if psql is None:
        pytest.skip("psql is not installed")
    names = [*CASED, "STRAẞE", "ÖSTERREICH", "Ærø", "ДОМ-1", "ﬁle ＡＢＣ"]
    literals = ", ".join("'" + n.replace("'", "''") + "'" for n in names)
    # Names as the store keeps them: in COLLATE "C" columns, where lower() alone is ASCII only.
    script = (f"{FOLD_SQL_POSTGRES.replace('syncview_fold', 'pg_temp.syncview_fold')};\n"
              f"SELECT pg_temp.syncview_fold(n COLLATE \"C\") FROM unnest(ARRAY[{literals}]) WITH ORDINALITY "
              "AS t(n, i) ORDER BY i;")
    done = subprocess.run([psql, "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-X", "-q", "-A", "-t",
                           "-v", "ON_ERROR_STOP=1"], input=script, capture_output=True, text=True, timeout=30,
                          env={**os.environ, "PGCONNECT_TIMEOUT": "5"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [fold_case(n) for n in names]


def test_a_filter_of_only_spaces_is_no_filter(demo_store):
    integration = iid(demo_store, PSA)
    assert queries.count_resources(demo_store, ResourceFilter(integration, text="   ")) == \
        queries.count_resources(demo_store, ResourceFilter(integration))


@pytest.mark.parametrize(("type_", "status"), [
    (ResourceType.CONTACT, None),
    (None, SyncStatus.EXCLUDED),
    (ResourceType.SITE, SyncStatus.NOT_SYNCED),
    (ResourceType.DEVICE, SyncStatus.MATCHED),
])
def test_type_and_status_filters(demo_store, type_, status):
    integration = iid(demo_store, PSA)
    expected = {r["id"] for r in all_resources(demo_store, integration)
                if (type_ is None or r["type"] == type_.value) and (status is None or r["status"] == status.value)}
    flt = ResourceFilter(integration, type=type_, status=status)
    assert expected
    assert set(filtered(demo_store, flt)) == expected
    assert queries.count_resources(demo_store, flt) == len(expected)


def test_client_filter_and_resources_without_a_client(demo_store):
    integration = iid(demo_store, PSA)
    everything = all_resources(demo_store, integration)
    client_id = next(r["client_id"] for r in everything if r["client_id"] is not None)
    assert set(filtered(demo_store, ResourceFilter(integration, client_id=client_id))) == \
        {r["id"] for r in everything if r["client_id"] == client_id}
    orphans = {r["id"] for r in everything if r["client_id"] is None}
    assert orphans  # the mis-spelt PSA company
    assert set(filtered(demo_store, ResourceFilter(integration, client_id=NO_CLIENT))) == orphans


def test_every_filter_at_once(demo_store):
    integration = iid(demo_store, RMM)
    client_id = rows(demo_store, "SELECT id FROM client ORDER BY id LIMIT 1")[0][0]
    flt = ResourceFilter(integration, client_id, "ws", ResourceType.DEVICE, SyncStatus.MATCHED)
    found = queries.resource_page(demo_store, flt, limit=100_000)
    expected = {i for (i,) in rows(demo_store, "SELECT id FROM resource WHERE integration_id = ? AND client_id = ? "
                                               "AND type = 'device' AND status = 'matched' "
                                               "AND name_norm LIKE '%ws%'", integration, client_id)}
    assert expected  # every row that should be there is, and no other
    assert {r.id for r in found} == expected
    assert queries.count_resources(demo_store, flt) == len(expected)


def test_no_integration_means_every_integration(demo_store):
    total = rows(demo_store, "SELECT count(*) FROM resource")[0][0]
    assert queries.count_resources(demo_store, ResourceFilter(None)) == total


# --- paging and sorting -----------------------------------------------------------------------------

def test_pages_cover_the_filter_once_each_in_name_order(demo_store):
    flt = ResourceFilter(iid(demo_store, PSA), type=ResourceType.CONTACT)
    total = queries.count_resources(demo_store, flt)
    pages = [queries.resource_page(demo_store, flt, offset=o, limit=37) for o in range(0, total + 37, 37)]
    seen = [r for page in pages for r in page]
    assert len(seen) == len({r.id for r in seen}) == total
    keys = [(normalise_name(r.name), r.id) for r in seen]
    assert keys == sorted(keys)
    assert pages[-1] == []


def test_descending_and_other_sort_keys(demo_store):
    flt = ResourceFilter(iid(demo_store, RMM))
    down = queries.resource_page(demo_store, flt, limit=200, sort="name", descending=True)
    names = [normalise_name(r.name) for r in down]
    assert names == sorted(names, reverse=True)
    by_seen = queries.resource_page(demo_store, flt, limit=200, sort="last_seen")
    assert [r.last_seen for r in by_seen] == sorted(r.last_seen for r in by_seen)
    by_status = queries.resource_page(demo_store, flt, limit=5000, sort="status")
    assert [r.status.value for r in by_status] == sorted(r.status.value for r in by_status)


def _naive_plan(conn, flt, offset, limit, sort, descending):
    return queries._PagePlan(offset, limit, descending)


@pytest.mark.parametrize("sort_over_walk", [0, queries.SORT_OVER_WALK, 10**9])
@pytest.mark.parametrize(("sort", "descending"), [("name", False), ("name", True), ("status", False),
                                                  ("record", True), ("client", False)])
def test_planned_pages_are_the_pages_of_the_plain_query(demo_store, monkeypatch, sort_over_walk, sort, descending):
    """Pages read from the other end, from a sorted slice or not at all (past the end, empty slice)
    are exactly the pages of the plain OFFSET query, whichever plan the counts choose."""
    psa = iid(demo_store, PSA)
    client_id = next(r["client_id"] for r in all_resources(demo_store, psa) if r["client_id"] is not None)
    filters = [ResourceFilter(psa), ResourceFilter(psa, type=ResourceType.SITE),
               ResourceFilter(psa, status=SyncStatus.EXCLUDED), ResourceFilter(psa, client_id=client_id),
               ResourceFilter(psa, client_id=NO_CLIENT, type=ResourceType.DEVICE),
               ResourceFilter(iid(demo_store, RMM), type=ResourceType.CONTACT)]  # the RMM has no contacts
    monkeypatch.setattr(queries, "SORT_OVER_WALK", sort_over_walk)
    for flt in filters:
        total = queries.count_resources(demo_store, flt)
        offsets = sorted({0, 1, total // 2, max(total - 37, 0), max(total - 1, 0), total, total + 5,
                          *range(0, total, max(total // 7, 1))})
        planned = [queries.resource_page(demo_store, flt, offset=o, limit=37, sort=sort, descending=descending)
                   for o in offsets]
        with monkeypatch.context() as plain:
            plain.setattr(queries, "_page_plan", _naive_plan)
            expected = [queries.resource_page(demo_store, flt, offset=o, limit=37, sort=sort, descending=descending)
                        for o in offsets]
        assert [[r.id for r in page] for page in planned] == [[r.id for r in page] for page in expected], flt
        if sort == "name":  # and both are the plain query's: ORDER BY name_norm, id with OFFSET/LIMIT
            clauses = {"type = ?": flt.type and flt.type.value, "status = ?": flt.status and flt.status.value,
                       "client_id = ?": flt.client_id if flt.client_id not in (None, NO_CLIENT) else None}
            where = " AND ".join(["integration_id = ?", *(c for c, v in clauses.items() if v is not None)]
                                 + (["client_id IS NULL"] if flt.client_id == NO_CLIENT else []))
            direction = "DESC" if descending else "ASC"
            ordered = [r[0] for r in rows(
                demo_store, f"SELECT id FROM resource WHERE {where} ORDER BY name_norm {direction}, id {direction}",
                flt.integration_id, *(v for v in clauses.values() if v is not None))]
            assert [[r.id for r in page] for page in planned] == [ordered[o:o + 37] for o in offsets], flt
        assert sum(len(p) for p in planned) == sum(min(37, max(total - o, 0)) for o in offsets)


def test_small_slices_are_sorted_and_late_pages_read_from_the_end(demo_store):
    psa = iid(demo_store, PSA)
    with demo_store.read() as conn:
        total = queries.count_resources(demo_store, ResourceFilter(psa))
        late = queries._page_plan(conn, ResourceFilter(psa), total - 10, 100, "name", False)
        assert (late.offset, late.limit, late.descending, late.sorted_slice) == (0, 10, True, False)
        sites = queries._page_plan(conn, ResourceFilter(psa, type=ResourceType.SITE), 0, 100, "name", False)
        assert sites.sorted_slice
        empty = queries._page_plan(conn, ResourceFilter(iid(demo_store, RMM), type=ResourceType.CONTACT),
                                   0, 100, "name", False)
        assert empty.limit == 0


def test_an_unknown_sort_key_is_refused(demo_store):
    with pytest.raises(ValueError, match="cannot sort by 'colour'"):
        queries.resource_page(demo_store, ResourceFilter(None), sort="colour")


def test_iter_resources_yields_everything_in_id_order_across_chunks(demo_store):
    flt = ResourceFilter(iid(demo_store, RMM), status=SyncStatus.NOT_SYNCED)
    ids = [r.id for r in queries.iter_resources(demo_store, flt, chunk=17)]
    assert ids == sorted(ids) and len(ids) == queries.count_resources(demo_store, flt)


def test_a_row_joins_its_record_and_client(demo_store):
    [(rid, record_name, client_name)] = rows(
        demo_store, "SELECT resource.id, record.name, client.name FROM resource JOIN record ON record.id = "
                    "resource.record_id JOIN client ON client.id = resource.client_id LIMIT 1")
    row = queries.get_resource(demo_store, rid)
    assert (row.record_name, row.client_name) == (record_name, client_name)
    with pytest.raises(NotFoundError, match="no resource with id 0"):
        queries.get_resource(demo_store, 0)


# --- logs -------------------------------------------------------------------------------------------

def log_times(store) -> list[datetime]:
    return [sql_time(t) for (t,) in rows(store, "SELECT DISTINCT time FROM sync_log_entry ORDER BY time")]


def test_log_entries_in_a_half_open_range_newest_first(demo_store):
    times = log_times(demo_store)
    since, until = times[len(times) // 3], times[2 * len(times) // 3]
    found = queries.log_entries(demo_store, since=since, until=until)
    [(count,)] = rows(demo_store, "SELECT count(*) FROM sync_log_entry WHERE time >= ? AND time < ?",
                      since.strftime("%Y-%m-%d %H:%M:%S.%f"), until.strftime("%Y-%m-%d %H:%M:%S.%f"))
    assert len(found) == count > 0
    assert min(e.time for e in found) == since  # since is included...
    assert all(e.time < until for e in found)  # ...until is not
    assert [(e.time, e.id) for e in found] == sorted(((e.time, e.id) for e in found), reverse=True)


def test_log_range_in_another_time_zone_means_the_same_instant(demo_store):
    times = log_times(demo_store)
    since = times[len(times) // 2]
    elsewhere = since.astimezone(timezone(timedelta(hours=-7)))
    assert queries.log_entries(demo_store, since=since) == queries.log_entries(demo_store, since=elsewhere)


@pytest.mark.parametrize(("level", "kept"), [
    ("info", {"info", "warning", "error"}),
    ("warning", {"warning", "error"}),
    ("error", {"error"}),
])
def test_level_keeps_that_level_and_worse(demo_store, level, kept):
    found = queries.log_entries(demo_store, level=level)
    [(count,)] = rows(demo_store, f"SELECT count(*) FROM sync_log_entry WHERE level IN "
                                  f"({','.join('?' * len(kept))})", *kept)
    assert len(found) == count > 0
    assert {e.level for e in found} == kept


def test_log_entries_of_one_integration_with_a_limit_and_resource_names(demo_store):
    integration = iid(demo_store, RMM)
    found = queries.log_entries(demo_store, integration, limit=25)
    assert len(found) == 25 and {e.integration_id for e in found} == {integration}
    about = [e for e in queries.log_entries(demo_store, integration) if e.resource_id is not None]
    assert about and all(e.resource_name and e.resource_name in e.message for e in about)
