"""The sync engine on real stores: what a run writes, what a second run leaves alone, and how
runs that fail, are interrupted or are left running end.

A small hand-made MSP (one documented client, a few records) keeps every expectation
readable; the demo store checks the engine agrees with the seeder at scale.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime

import pytest

from syncview.config import IntegrationConfig
from syncview.connectors.base import Connector, IdPage, Page
from syncview.connectors.demo import DemoConnector
from syncview.domain import IdentityKeys, RemoteItem, ResourceType, SyncStatus, xref
from syncview.errors import AuthenticationError, ConfigError, ConnectorError
from syncview.services import actions, queries, sync
from syncview.services.matching import Decision, MatchInput, RecordInfo, Records, Rule, decide
from syncview.services.sync import (
    SyncAlreadyRunningError,
    SyncCancelled,
    SyncError,
    build_connector,
    settled,
    sync_connector,
    sync_integration,
)
from tests.helpers import rows

CLIENT, SITE, DEVICE, CONTACT = ResourceType.CLIENT, ResourceType.SITE, ResourceType.DEVICE, ResourceType.CONTACT
NAME = "Test PSA"


class Scripted(Connector):
    """Yields the pages it is given; optionally fails after some of them."""

    kind = "scripted"
    title = "Scripted"

    def __init__(self, pages: list[list[RemoteItem]], *, fail_after: int | None = None,
                 error: BaseException | None = None, incremental: bool = False, name: str = NAME,
                 warnings: list[str] | None = None) -> None:
        super().__init__(name, {})
        self.pages = pages
        self.fail_after = fail_after
        self.error = error or ConnectorError(f"{name}: connection reset by peer")
        self.supports_incremental = incremental
        self.warnings = warnings or []
        self.since: datetime | None = None

    def fetch(self, since: datetime | None = None) -> Iterator[Page]:
        self.since = since
        for number, items in enumerate(self.pages):
            if number == self.fail_after:
                raise self.error
            yield Page(list(items), "items", warnings=self.warnings if number == 0 else [])
        if self.fail_after is not None and self.fail_after >= len(self.pages):
            raise self.error


def item(type_, ext, name, company="Acme Corp", **payload) -> RemoteItem:
    return RemoteItem(type_, str(ext), name, company, {"id": str(ext), **payload})


#: The remote side: Acme is documented locally, Globex is not.
SOURCE = [
    item(CLIENT, 1, "ACME Corp."),
    item(DEVICE, 10, "acme-ws-001", kind="WS"),
    item(DEVICE, 11, "ACME-WS-002", kind="WS"),
    item(CONTACT, 20, "Ana Brown"),
    item(CLIENT, 2, "Globex", company="Globex"),
    item(DEVICE, 30, "GLOBEX-1", company="Globex"),
]


@pytest.fixture
def documented(store):
    """Local documentation: client Acme Corp with its client record, a device and a contact record."""
    with store.write() as conn:
        conn.exec_driver_sql("INSERT INTO client (id, name, name_norm) VALUES (1, 'Acme Corp', 'acme corp')")
        for record_id, type_, name, norm in ((1, "client", "Acme Corp", "acme corp"),
                                             (2, "device", "ACME-WS-001", "acme ws 001"),
                                             (3, "contact", "Ana Brown", "ana brown")):
            conn.exec_driver_sql(
                "INSERT INTO record (id, type, client_id, name, name_norm, disabled, attributes, created_at,"
                " updated_at) VALUES (?, ?, 1, ?, ?, 0, '{}', '2026-01-01 00:00:00.000000',"
                " '2026-01-01 00:00:00.000000')",
                (record_id, type_, name, norm))
    return store


def run(store, items=SOURCE, page_size=2, **options):
    pages = [items[i:i + page_size] for i in range(0, len(items), page_size)]
    connector_options = {k: options.pop(k) for k in ("fail_after", "error", "incremental", "warnings")
                         if k in options}
    if "name_" in options:
        connector_options["name"] = options.pop("name_")
    return sync_connector(store, Scripted(pages, **connector_options), **options)


def resources(store) -> dict[str, tuple]:
    """external id -> (name, status, record id, client id, version, deleted)"""
    return {ext: tuple(rest) for ext, *rest in rows(
        store, "SELECT external_id, name, status, record_id, client_id, version, deleted_remotely FROM resource")}


def state(store) -> list[tuple]:
    """Every resource column but last_seen, which a run is meant to move."""
    return rows(store, "SELECT id, integration_id, type, external_id, name, name_norm, remote_company, client_id,"
                       " payload, status, record_id, first_seen, deleted_remotely, version, updated_at, updated_by"
                       " FROM resource ORDER BY id")


def run_rows(store) -> list[tuple]:
    return rows(store, "SELECT outcome, fetched, created, matched, not_synced, removed, message FROM syncrun "
                       "ORDER BY id")


def log_messages(store, run_id=None) -> list[str]:
    if run_id is None:
        return [m for (m,) in rows(store, "SELECT message FROM sync_log_entry ORDER BY id")]
    return [m for (m,) in rows(store, "SELECT message FROM sync_log_entry WHERE sync_run_id = ? ORDER BY id", run_id)]


# --- a first run ---------------------------------------------------------------------------------

def test_first_run_links_equal_names_within_type_and_client(documented):
    report = run(documented)

    assert report.ok and report.full
    got = resources(documented)
    assert got["1"] == ("ACME Corp.", "matched", 1, 1, 1, 0)  # client: by name alone
    assert got["10"] == ("acme-ws-001", "matched", 2, 1, 1, 0)  # normalised names are equal
    assert got["11"] == ("ACME-WS-002", "not_synced", None, 1, 1, 0)  # no record of that name
    assert got["20"] == ("Ana Brown", "matched", 3, 1, 1, 0)
    assert got["2"][1:4] == ("not_synced", None, None)  # Globex is no local client
    assert got["30"][1:4] == ("not_synced", None, None)
    c = report.counts
    assert (c.fetched, c.new, c.linked, c.matched, c.not_synced, c.excluded, c.created) == (6, 6, 3, 3, 3, 0, 0)
    assert run_rows(documented) == [("success", 6, 0, 3, 3, 0, None)]


def test_first_run_logs_what_happened_and_why(documented):
    report = run(documented)

    messages = log_messages(documented, report.run_id)
    assert messages[0] == f"sync of {NAME} started (full)"
    assert "device 'acme-ws-001' matched to its record on name" in messages
    assert "device 'ACME-WS-002' not synced: no unlinked device record of that name" in messages
    assert "device 'GLOBEX-1' not synced: its remote company matches no local client" in messages
    assert messages[-1].startswith(f"sync of {NAME} finished: 6 fetched, 6 new")
    resource_of = dict(rows(documented, "SELECT message, resource_id FROM sync_log_entry"))
    assert resource_of["device 'acme-ws-001' matched to its record on name"] == \
        rows(documented, "SELECT id FROM resource WHERE external_id = '10'")[0][0]


def test_the_integration_row_is_created_when_missing(store):
    run(store)
    assert rows(store, "SELECT name, kind FROM integration") == [(NAME, "scripted")]


def test_progress_is_reported_after_each_page(documented):
    seen = []
    run(documented, on_progress=seen.append)
    assert [(p.fetched, p.pages) for p in seen] == [(0, 0), (2, 1), (4, 2), (6, 3)]
    assert all(p.integration == NAME for p in seen)


# --- a second run --------------------------------------------------------------------------------

def test_a_second_run_of_an_unchanged_source_changes_nothing(documented):
    run(documented)
    before = state(documented)
    seen_before = rows(documented, "SELECT max(last_seen) FROM resource")

    report = run(documented)

    assert state(documented) == before
    assert rows(documented, "SELECT max(last_seen) FROM resource") > seen_before
    c = report.counts
    assert (c.unchanged, c.changed, c.new, c.linked) == (6, 0, 0, 0)
    assert "0 changed" in log_messages(documented, report.run_id)[-1]


def test_a_change_remotely_bumps_the_version_once(documented):
    run(documented)
    changed = [item(DEVICE, 10, "acme-ws-001", kind="LT") if i.external_id == "10" else i for i in SOURCE]

    assert run(documented, changed).counts.changed == 1
    assert resources(documented)["10"][4] == 2
    assert run(documented, changed).counts.changed == 0
    assert resources(documented)["10"][4] == 2
    assert '"kind":"LT"' in rows(documented, "SELECT payload FROM resource WHERE external_id = '10'")[0][0]


def test_a_record_documented_later_is_linked_by_the_next_run(documented):
    run(documented)
    with documented.write() as conn:
        conn.exec_driver_sql(
            "INSERT INTO record (id, type, client_id, name, name_norm, disabled, attributes, created_at, updated_at)"
            " VALUES (9, 'device', 1, 'ACME WS 002', 'acme ws 002', 0, '{}', '2026-01-01', '2026-01-01')")

    report = run(documented)

    assert resources(documented)["11"][1:5] == ("matched", 9, 1, 2)
    assert report.counts.linked == 1


# --- operators' decisions ------------------------------------------------------------------------

def resource_id(store, external_id) -> int:
    return rows(store, "SELECT id FROM resource WHERE external_id = ?", external_id)[0][0]


def test_an_exclusion_is_never_undone(documented):
    run(documented)
    actions.exclude(documented, resource_id(documented, "10"))
    before = resources(documented)["10"]

    report = run(documented)

    assert resources(documented)["10"] == before
    assert before[1:3] == ("excluded", None)
    assert report.counts.excluded == 1


def test_a_manual_rematch_is_kept_even_when_a_name_would_match_elsewhere(documented):
    run(documented)
    with documented.write() as conn:
        conn.exec_driver_sql(
            "INSERT INTO record (id, type, client_id, name, name_norm, disabled, attributes, created_at, updated_at)"
            " VALUES (7, 'device', 1, 'Spare laptop', 'spare laptop', 0, '{}', '2026-01-01', '2026-01-01'),"
            " (8, 'device', 1, 'ACME-WS-002', 'acme ws 002', 0, '{}', '2026-01-01', '2026-01-01')")
    actions.rematch(documented, resource_id(documented, "11"), 7)
    before = resources(documented)["11"]

    run(documented)

    assert resources(documented)["11"] == before
    assert before[1:3] == ("matched", 7)


def test_a_company_rematched_by_an_operator_resolves_its_items(documented):
    """A PSA company spelled unlike the local client is matched once, by hand; its items follow."""
    items = [item(CLIENT, 1, "Acme Corporation, Inc.", company="Acme Corporation, Inc."),
             item(DEVICE, 10, "ACME-WS-001", company="Acme Corporation, Inc.")]
    run(documented, items)
    assert resources(documented)["10"][1:4] == ("not_synced", None, None)

    actions.rematch(documented, resource_id(documented, "1"), 1)
    report = run(documented, items)

    assert resources(documented)["10"][1:4] == ("matched", 2, 1)
    assert report.counts.linked == 1


# --- create_missing ------------------------------------------------------------------------------

def test_create_missing_creates_clients_and_records(documented):
    report = run(documented, create_missing=True)

    c = report.counts
    assert (c.created, c.matched, c.not_synced) == (3, 6, 0)
    globex = rows(documented, "SELECT id FROM client WHERE name = 'Globex'")[0][0]
    created = rows(documented, "SELECT type, client_id, name FROM record WHERE id > 3 ORDER BY id")
    assert created == [("device", 1, "ACME-WS-002"), ("client", globex, "Globex"), ("device", globex, "GLOBEX-1")]
    got = resources(documented)
    assert got["30"][1] == "matched" and got["30"][3] == globex
    assert run_rows(documented)[-1][2] == 3
    assert "device 'GLOBEX-1': created its record" in log_messages(documented)
    # Created records are linked: a second run creates nothing more.
    assert run(documented, create_missing=True).counts.created == 0


def test_create_missing_files_a_new_company_under_an_existing_client_of_its_name(documented):
    with documented.write() as conn:
        conn.exec_driver_sql("DELETE FROM record WHERE type = 'client'")

    run(documented, [item(CLIENT, 1, "ACME corp")], create_missing=True)

    assert rows(documented, "SELECT count(*) FROM client") == [(1,)]
    assert rows(documented, "SELECT client_id FROM record WHERE type = 'client'") == [(1,)]


# --- removed remotely ----------------------------------------------------------------------------

def test_resources_a_full_run_no_longer_sees_are_marked_removed_and_unmarked_when_back(documented):
    run(documented)
    without = [i for i in SOURCE if i.external_id != "11"]

    report = run(documented, without)

    assert report.counts.removed == 1
    assert resources(documented)["11"][4:] == (2, 1)
    assert "device 'ACME-WS-002' was removed remotely" in log_messages(documented, report.run_id)
    assert run_rows(documented)[-1][5] == 1

    back = run(documented)
    assert back.counts.reappeared == 1
    assert resources(documented)["11"][4:] == (3, 0)
    assert "device 'ACME-WS-002' is back remotely" in log_messages(documented, back.run_id)


def test_an_incremental_run_gets_since_and_marks_nothing_removed(documented):
    first = Scripted([SOURCE], incremental=True)
    sync_connector(documented, first)
    assert first.since is None  # nothing to be incremental from yet
    started = rows(documented, "SELECT started_at FROM syncrun")[0][0]

    second = Scripted([SOURCE[:1]], incremental=True)
    report = sync_connector(documented, second)

    started = started if isinstance(started, str) else started.strftime("%Y-%m-%d %H:%M:%S.%f")  # PostgreSQL's
    assert second.since is not None and second.since.strftime("%Y-%m-%d %H:%M:%S.%f") == started
    assert not report.full and report.counts.removed == 0
    assert not any(r[5] for r in resources(documented).values())

    full = sync_connector(documented, Scripted([SOURCE[:1]], incremental=True), full=True)
    assert full.full and full.counts.removed == 5


class Listing(Scripted):
    """An incremental connector whose pass over live ids lists ``live`` (type -> ids), in pages of 2."""

    supports_live_ids = True

    def __init__(self, pages, live: dict[ResourceType, list[str]], **options) -> None:
        super().__init__(pages, incremental=True, **options)
        self.live = live
        self.listed = 0

    def live_ids(self) -> Iterator[IdPage]:
        for type_, ids in self.live.items():
            if not ids:
                yield IdPage(type_, [])
            for start in range(0, len(ids), 2):
                self.listed += 1
                yield IdPage(type_, ids[start:start + 2])


def live_of(items) -> dict[ResourceType, list[str]]:
    live: dict[ResourceType, list[str]] = {}
    for one in items:
        live.setdefault(one.type, []).append(one.external_id)
    return live


def test_an_item_deleted_between_two_incremental_runs_is_marked_removed_by_the_second(documented):
    sync_connector(documented, Listing([SOURCE], live_of(SOURCE)))  # the first run is a full one
    unchanged = Listing([], live_of(SOURCE))
    quiet = sync_connector(documented, unchanged)
    assert not quiet.full and quiet.counts.removed == 0 and unchanged.listed == 4
    gone = [i for i in SOURCE if i.external_id not in ("11", "30")]
    progress = []

    report = sync_connector(documented, Listing([[SOURCE[0]]], live_of(gone)), on_progress=progress.append)

    assert not report.full and report.ok and report.counts.removed == 2
    assert {ext for ext, r in resources(documented).items() if r[5]} == {"11", "30"}
    assert resources(documented)["11"][4] == 2  # the version moved once
    messages = log_messages(documented, report.run_id)
    assert "device 'ACME-WS-002' was removed remotely" in messages
    assert "device 'GLOBEX-1' was removed remotely" in messages
    assert run_rows(documented)[-1][5] == 2
    assert "2 removed remotely" in report.summary()
    # The pass reports its progress as the fetch does, by type.
    assert [(p.entity, p.entity_fetched) for p in progress[-3:]] == [
        ("client ids", 2), ("device ids", 1), ("contact ids", 1)]

    back = sync_connector(documented, Listing([], live_of(SOURCE)))
    assert back.counts.reappeared == 2 and back.counts.removed == 0
    assert not any(r[5] for r in resources(documented).values())
    assert "device 'ACME-WS-002' is back remotely" in log_messages(documented, back.run_id)


def test_the_live_id_pass_leaves_types_it_does_not_list_alone(documented):
    sync_connector(documented, Listing([SOURCE], live_of(SOURCE)))
    devices_only = {DEVICE: ["10"]}

    report = sync_connector(documented, Listing([], devices_only))

    assert report.counts.removed == 2  # devices 11 and 30; clients and the contact were not listed
    assert {ext for ext, r in resources(documented).items() if r[5]} == {"11", "30"}


def test_a_type_listed_empty_is_not_taken_for_every_item_deleted(documented):
    sync_connector(documented, Listing([SOURCE], live_of(SOURCE)))
    live = live_of(SOURCE)
    live[DEVICE] = []

    report = sync_connector(documented, Listing([], live))

    assert report.ok and report.counts.removed == 0
    assert "the product listed no device at all; 3 known ones were not marked removed" in report.message
    assert not any(r[5] for r in resources(documented).values())


def test_an_item_fetched_by_the_incremental_run_is_not_marked_even_if_the_id_pass_missed_it(documented):
    sync_connector(documented, Listing([SOURCE], live_of(SOURCE)))
    # Created after the id pass's answer was made, say: fetched now, listed next time.
    report = sync_connector(documented, Listing([[SOURCE[1]]], live_of([i for i in SOURCE if i is not SOURCE[1]])))
    assert report.counts.removed == 0


def test_a_cancel_during_the_id_pass_marks_nothing(documented):
    sync_connector(documented, Listing([SOURCE], live_of(SOURCE)))

    def cancel(progress):
        if progress.entity.endswith(" ids"):
            raise SyncCancelled()

    with pytest.raises(SyncCancelled):
        sync_connector(documented, Listing([], live_of(SOURCE[:1])), on_progress=cancel)
    assert not any(r[5] for r in resources(documented).values())
    assert run_rows(documented)[-1][0] == "failed"
    # Nothing of the pass stays behind on the pooled connections.
    if documented.is_postgres:  # any session's temporary table
        assert rows(documented, "SELECT count(*) FROM pg_class WHERE relname = 'live_id' AND relpersistence = 't'") \
            == [(0,)]
    else:
        assert rows(documented, "SELECT count(*) FROM temp.sqlite_master WHERE name = 'live_id'") == [(0,)]


def test_a_product_refusing_the_id_pass_keeps_the_changes_and_only_the_deletions_wait(documented):
    sync_connector(documented, Listing([SOURCE], live_of(SOURCE)))

    class Refusing(Listing):
        def live_ids(self):
            yield IdPage(DEVICE, ["10"])
            raise ConnectorError(f"{NAME}: fields=id is not supported by this server")

    changed = item(DEVICE, 10, "acme-ws-001", kind="laptop")
    report = sync_connector(documented, Refusing([[changed]], {}))

    assert report.ok and report.counts.changed == 1 and report.counts.removed == 0
    assert report.message == f"deletions not checked this time: {NAME}: fields=id is not supported by this server"
    assert not any(r[5] for r in resources(documented).values())


def test_a_full_run_does_not_ask_for_live_ids(documented):
    sync_connector(documented, Listing([SOURCE], live_of(SOURCE)))
    full = Listing([SOURCE], {})
    sync_connector(documented, full, full=True)
    assert full.listed == 0


def test_an_empty_answer_does_not_mark_everything_removed(documented):
    run(documented)
    report = run(documented, [])
    assert report.counts.removed == 0
    assert "the connector returned nothing" in report.message
    assert not any(r[5] for r in resources(documented).values())


# --- failures and interruptions ------------------------------------------------------------------

def test_a_connector_failure_keeps_committed_pages_and_the_next_run_completes_it(documented):
    with pytest.raises(SyncError) as caught:
        run(documented, fail_after=2)

    report = caught.value.report
    assert report.outcome == "partial" and report.counts.fetched == 4
    assert isinstance(caught.value.__cause__, ConnectorError)
    assert str(caught.value) == (f"{NAME}: connection reset by peer "
                                 "(stopped after 2 pages; the next run completes it)")
    assert sorted(resources(documented)) == ["1", "10", "11", "20"]
    assert run_rows(documented) == [("partial", 4, 0, 3, 1, 0, str(caught.value))]
    assert log_messages(documented)[-1] == str(caught.value)

    done = run(documented)
    assert done.ok and done.counts.new == 2 and done.counts.removed == 0
    assert len(resources(documented)) == 6


def test_a_failure_before_any_page_is_a_failed_run(documented):
    error = AuthenticationError(f"authentication failed for {NAME}: GET /companies answered 401")
    with pytest.raises(SyncError) as caught:
        run(documented, fail_after=0, error=error)

    assert caught.value.report.outcome == "failed"
    assert caught.value.__cause__ is error
    assert run_rows(documented) == [("failed", 0, 0, 0, 0, 0, str(error))]
    assert resources(documented) == {}


def test_keyboard_interrupt_is_recorded_and_goes_on(documented):
    with pytest.raises(KeyboardInterrupt):
        run(documented, fail_after=1, error=KeyboardInterrupt())

    outcome, fetched, *_, message = run_rows(documented)[0]
    assert (outcome, fetched) == ("partial", 2)
    assert "interrupted by the operator" in message


def test_a_progress_callback_can_cancel_between_pages(documented):
    def cancel(progress):
        if progress.pages == 1:
            raise SyncCancelled()

    with pytest.raises(SyncCancelled):
        run(documented, on_progress=cancel)
    assert run_rows(documented)[0][:2] == ("partial", 2)
    assert len(resources(documented)) == 2


def test_a_page_that_fails_to_write_leaves_nothing_of_itself(documented, monkeypatch):
    calls = []
    original = sync._PageWriter.write

    def write_then_fail(self):
        original(self)
        calls.append(1)
        if len(calls) == 2:
            raise ValueError("disk on fire")

    monkeypatch.setattr(sync._PageWriter, "write", write_then_fail)
    with pytest.raises(ValueError):
        run(documented)

    assert sorted(resources(documented)) == ["1", "10"]  # the first page only
    outcome, fetched, *_, message = run_rows(documented)[0]
    assert (outcome, fetched) == ("partial", 2) and "unexpected ValueError: disk on fire" in message


def test_the_cyclic_collector_is_off_while_a_page_is_written_and_on_again_after(documented, monkeypatch):
    import gc

    during = []
    original = sync._PageWriter.write

    def write_then_fail(self):
        during.append(gc.isenabled())
        original(self)
        if len(during) == 2:
            raise ValueError("disk on fire")

    monkeypatch.setattr(sync._PageWriter, "write", write_then_fail)
    assert gc.isenabled()
    with pytest.raises(ValueError):
        run(documented)
    assert during == [False, False] and gc.isenabled()  # back on after a page that failed too
    monkeypatch.undo()
    gc.disable()
    try:  # a caller that keeps the collector off finds it off still
        run(documented)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_run_left_running_by_a_dead_process_is_closed_at_the_next_start(documented):
    with documented.write() as conn:
        conn.exec_driver_sql("INSERT INTO integration (id, name, kind, created_at) VALUES (5, ?, 'scripted', "
                             "'2026-01-01 00:00:00.000000')", (NAME,))
        for message in (f"running in process {os.getpid()} on {sync._HOST}", None):
            conn.exec_driver_sql("INSERT INTO syncrun (integration_id, started_at, outcome, message, fetched, created,"
                                 " matched, not_synced, removed) VALUES (5, '2026-01-01 00:00:00.000000', 'running',"
                                 " ?, 0, 0, 0, 0, 0)", (message,))

    assert run(documented).ok

    runs = run_rows(documented)
    assert [r[0] for r in runs] == ["failed", "failed", "success"]
    assert runs[0][6].startswith(f"interrupted (process {os.getpid()} ended before it finished)")
    assert runs[1][6] == "interrupted; the next run completes it"
    assert rows(documented, "SELECT count(*) FROM syncrun WHERE ended_at IS NULL") == [(0,)]


def test_a_live_run_is_not_closed_and_a_second_run_is_refused(documented):
    class Reentrant(Scripted):
        def fetch(self, since=None):
            yield Page(SOURCE[:2], "items")
            sync_connector(documented, Scripted([SOURCE]))  # the same integration, while running

    with pytest.raises(SyncError) as caught:
        sync_connector(documented, Reentrant([]))
    assert isinstance(caught.value.__cause__, SyncAlreadyRunningError)
    assert "already being synced (run 1, process" in str(caught.value)
    assert [r[0] for r in run_rows(documented)] == ["partial"]  # the outer run, stopped by the refusal


def test_close_abandoned_runs_counts_what_it_closed(documented):
    run(documented)
    with documented.write() as conn:
        conn.exec_driver_sql("INSERT INTO syncrun (integration_id, started_at, outcome, message, fetched, created,"
                             " matched, not_synced, removed) VALUES (1, '2026-01-01 00:00:00.000000', 'running',"
                             " 'running in process 1 on some-other-host', 0, 0, 0, 0, 0)")
    assert sync.close_abandoned_runs(documented) == 1
    assert sync.close_abandoned_runs(documented) == 0


# --- warnings, duplicates, bounded logs ----------------------------------------------------------

def test_connector_warnings_are_logged_and_counted(documented):
    report = run(documented, warnings=["row 3 skipped: no id", "row 9 skipped: no name"])

    assert report.ok and report.counts.warnings == 2
    assert "2 warnings" in report.message
    assert f"{NAME}: row 3 skipped: no id" in log_messages(documented)
    assert rows(documented, "SELECT count(*) FROM sync_log_entry WHERE level = 'warning' AND message LIKE "
                            "'%skipped%'") == [(2,)]


def test_an_item_twice_in_a_page_is_kept_once_the_last_copy_winning(documented):
    twice = [item(DEVICE, 10, "old name"), item(DEVICE, 10, "ACME-WS-001")]
    report = run(documented, twice)
    assert report.counts.new == 1
    assert resources(documented)["10"][:2] == ("ACME-WS-001", "matched")
    assert any("came twice" in m for m in log_messages(documented))


def test_per_item_log_lines_are_bounded(store, monkeypatch):
    monkeypatch.setattr(sync, "ITEM_LOG_LIMIT", 3)
    many = [item(DEVICE, n, f"WS-{n}", company="Nobody") for n in range(10)]

    report = run(store, many, page_size=4)

    messages = log_messages(store, report.run_id)
    assert sum(m.startswith("device 'WS-") for m in messages) == 3
    assert "(7 more item events counted, not logged one by one)" in messages[-1]
    assert report.counts.not_synced == 10


# --- the rules, the config, the demo --------------------------------------------------------------

@pytest.mark.parametrize("status", list(SyncStatus))
@pytest.mark.parametrize("record_id", [None, 5])
def test_settled_is_exactly_where_decide_keeps_or_skips_whatever_records_exist(status, record_id):
    records = Records()
    records.add(RecordInfo(9, "device", 1, "X", "x"))
    outcome = decide(MatchInput(DEVICE, 1, "x", status, record_id), records, create_missing=True)
    assert settled(status, record_id) == (outcome.decision in (Decision.KEEP, Decision.SKIP))


def test_build_connector_resolves_settings_and_hands_over_timeout_and_rate_limit():
    integration = IntegrationConfig("Demo", "demo", {"flavour": "rmm"}, rate_limit=30.0, timeout=12.0)
    connector = build_connector(integration)
    assert isinstance(connector, DemoConnector)
    assert connector.flavour == "rmm" and connector.resources == 5_000
    assert (connector.settings["timeout"], connector.settings["rate_limit"]) == (12.0, 30.0)


def test_sync_integration_uses_create_missing_and_refuses_a_disabled_integration(store):
    integration = IntegrationConfig("Demo", "demo", {"flavour": "psa", "resources": 200}, create_missing=True)
    report = sync_integration(store, integration)
    assert report.ok and report.counts.not_synced == 0 and report.counts.created > 0

    disabled = IntegrationConfig("Off", "demo", {}, enabled=False)
    with pytest.raises(ConfigError, match="disabled"):
        sync_integration(store, disabled)


def test_syncing_the_seeded_demo_changes_nothing(demo_store):
    """The engine and the seeder agree: the demo world synced over its own seed is a no-op."""
    before = state(demo_store)
    for name, flavour in (("ConnectWise Manage", "psa"), ("Datto RMM", "rmm")):
        report = sync_connector(demo_store, DemoConnector(name, {"flavour": flavour, "resources": 2_000}))
        assert report.ok and report.counts.changed == 0 and report.counts.new == 0
        assert report.counts.removed == 0  # the seed's deleted resources are still gone
    assert state(demo_store) == before


# --- identity keys ------------------------------------------------------------------------------

def device(ext, name, company="Acme Corp", **keys) -> RemoteItem:
    return RemoteItem(DEVICE, str(ext), name, company, {"id": str(ext)}, IdentityKeys(**keys))


def how(store, ext, integration=NAME) -> tuple:
    """(status, record id, matched_on, reason) of one device resource."""
    return rows(store, "SELECT r.status, r.record_id, r.matched_on, r.reason FROM resource r JOIN integration i"
                       " ON i.id = r.integration_id WHERE i.name = ? AND r.external_id = ? AND r.type = 'device'",
                integration, str(ext))[0]


@pytest.fixture
def keyed(documented):
    """The documented store after an RMM-like integration created its devices' records with their keys."""
    run(documented, [item(CLIENT, 1, "ACME Corp."),
                     device(50, "ACME-LT-7", serial="5CG7", macs=("AA:BB:CC:00:00:07",)),
                     device(51, "ACME-LT-8.acme.local", serial="5CG8"),
                     device(52, "ACME-LT-9", serial="5CG9", macs=("AA:BB:CC:00:00:09",))],
        create_missing=True, name_="RMM")
    return documented


def test_a_renamed_machine_links_on_its_serial_and_a_mac_in_another_notation_links_too(keyed):
    run(keyed, [item(CLIENT, 1, "ACME Corp."), device(1, "Front desk laptop", serial=" 5cg7 "),
                device(2, "Spare", macs=("aabb.cc00.0009",))])
    assert how(keyed, 1)[2] == "serial" and how(keyed, 1)[1] == how(keyed, 50, "RMM")[1]
    assert how(keyed, 2)[2] == "mac" and how(keyed, 2)[1] == how(keyed, 52, "RMM")[1]


def test_a_host_name_without_its_domain_links_by_name(keyed):
    run(keyed, [item(CLIENT, 1, "ACME Corp."), device(1, "acme-lt-8", hostname="ACME-LT-8.acme.local")])
    assert how(keyed, 1)[1:3] == (how(keyed, 51, "RMM")[1], "name")


def test_same_host_name_different_real_serial_is_a_replaced_machine(keyed):
    run(keyed, [item(CLIENT, 1, "ACME Corp."), device(1, "ACME-LT-7", serial="NEWBOX01")], create_missing=True)
    status, record_id, matched_on, reason = how(keyed, 1)
    assert (status, record_id, matched_on) == ("not_synced", None, None)
    assert reason == "same name as record 'ACME-LT-7' but serial NEWBOX01 differs from its 5CG7 (replaced hardware?)"


def test_a_placeholder_serial_never_links_and_the_reason_says_so(keyed):
    with keyed.write() as conn:  # a record whose keys are a placeholder can only be written by hand
        conn.exec_driver_sql("INSERT INTO record_key VALUES (2, 'serial', 'DEFAULT STRING')")
    run(keyed, [item(CLIENT, 1, "ACME Corp."), device(1, "Kiosk", serial="Default string")])
    assert how(keyed, 1) == ("not_synced", None, None,
                             "no unlinked device record of that name; serial 'Default string' is a placeholder")


def test_a_serial_on_two_items_of_the_integration_identifies_neither(keyed):
    run(keyed, [item(CLIENT, 1, "ACME Corp."), device(1, "Clone A", serial="5CG9"), device(2, "Clone B", serial="5CG9")],
        page_size=2)
    for ext in (1, 2):
        assert how(keyed, ext)[0] == "not_synced"
        assert "serial 5CG9 is on 2 items of this integration, so it identifies none of them" in how(keyed, ext)[3]


def test_a_value_on_many_items_is_counted_once_a_run_and_said_to_be_on_more_than_that(keyed, monkeypatch):
    from syncview.services import matching

    monkeypatch.setattr(matching, "MANY_CARRIERS", 3)
    counted: list[set[str]] = []
    count = matching._counts

    def watched(cursor, integration_id, kind, values, excluding="[]"):
        counted.append(set(values))
        return count(cursor, integration_id, kind, values, excluding)

    monkeypatch.setattr(matching, "_counts", watched)
    clones = [device(n, f"Clone {n}", serial="5CG9") for n in range(1, 9)]
    run(keyed, [item(CLIENT, 1, "ACME Corp."), *clones], page_size=2)
    before = len(counted)
    run(keyed, [item(CLIENT, 1, "ACME Corp."), *clones], page_size=2)  # now 8 stored carriers
    # The second run counted the value on its first page of clones (7 outside it: on "more than
    # 3") and on none of its four later pages.
    assert counted[before:] == [{"5CG9"}]
    for ext in range(1, 9):
        assert how(keyed, ext)[0] == "not_synced"
        assert "serial 5CG9 is on more than 3 items of this integration, so it identifies none of them" in \
            how(keyed, ext)[3]


def test_a_link_is_taken_back_when_a_later_page_of_settled_items_carries_its_serial(keyed):
    """The later page holds only an excluded item (nothing for the rules to decide): its serial
    still shows the earlier page's link to rest on a value two items carry."""
    run(keyed, [item(CLIENT, 1, "ACME Corp."), device(2, "Kiosk", serial="OTHER1")])
    actions.exclude(keyed, rows(keyed, "SELECT id FROM resource WHERE external_id = '2' AND type = 'device'"
                                " AND integration_id = (SELECT id FROM integration WHERE name = ?)", NAME)[0][0])
    run(keyed, [item(CLIENT, 1, "ACME Corp."), device(1, "Laptop nine", serial="5CG9"),
                device(2, "Kiosk", serial="5CG9")], page_size=2)
    status, record_id, matched_on, reason = how(keyed, 1)
    assert (status, record_id, matched_on) == ("not_synced", None, None)
    assert reason == "serial 5CG9 is on 2 items of this integration, so it identifies none of them"
    assert how(keyed, 2)[0] == "excluded"


def test_a_link_whose_value_no_later_page_brings_stays(keyed):
    run(keyed, [item(CLIENT, 1, "ACME Corp."), device(1, "Laptop nine", serial="5CG9"),
                device(2, "Kiosk", serial="OTHER1"), device(3, "Spare", macs=("AA:BB:CC:00:00:07",))], page_size=2)
    assert how(keyed, 1)[:3] == ("matched", how(keyed, 52, "RMM")[1], "serial")
    assert how(keyed, 3)[2] == "mac"


def test_two_records_with_the_serial_leave_the_item_not_synced(keyed):
    with keyed.write() as conn:
        conn.exec_driver_sql("INSERT INTO record_key VALUES (2, 'serial', '5CG7')")
    run(keyed, [item(CLIENT, 1, "ACME Corp."), device(1, "Somebody's laptop", serial="5CG7")], create_missing=True)
    assert how(keyed, 1) == ("not_synced", None, None, "2 records share serial 5CG7")


def test_a_created_record_keeps_its_keys_and_a_later_sync_refreshes_them(keyed):
    record_id = how(keyed, 50, "RMM")[1]
    keys_of = lambda: sorted(queries.record_keys(keyed, [record_id])[record_id].pairs())  # noqa: E731
    assert keys_of() == [("mac", "aa:bb:cc:00:00:07"), ("serial", "5CG7"), ("xref", "scripted:device:50")]
    run(keyed, [item(CLIENT, 1, "ACME Corp."), device(50, "ACME-LT-7", serial="5CG7", macs=("AA:BB:CC:00:00:77",))],
        name_="RMM")
    assert keys_of() == [("mac", "aa:bb:cc:00:00:77"), ("serial", "5CG7"), ("xref", "scripted:device:50")]
    # Unlinked by an operator, the record keeps the keys it was made from: others still find it.
    actions.exclude(keyed, rows(keyed, "SELECT id FROM resource WHERE external_id = '50'")[0][0])
    assert rows(keyed, "SELECT kind, value FROM record_key WHERE record_id = ? ORDER BY 1, 2", record_id) \
        == [("mac", "aa:bb:cc:00:00:77"), ("serial", "5CG7"), ("xref", "scripted:device:50")]
    run(keyed, [item(CLIENT, 1, "ACME Corp."), device(1, "Laptop 7", serial="5CG7")])
    assert how(keyed, 1)[1:3] == (record_id, "serial")


def test_another_integration_links_by_the_cross_reference_of_a_linked_item(keyed):
    record_id = how(keyed, 51, "RMM")[1]
    psa_item = device(9, "Laptop eight", xrefs=(xref("scripted", DEVICE, "51"),))
    run(keyed, [item(CLIENT, 1, "ACME Corp."), psa_item])
    assert how(keyed, 9)[1:3] == (record_id, "xref")


def test_an_operators_rematch_survives_a_sync_whose_keys_disagree(keyed):
    target = how(keyed, 50, "RMM")[1]
    run(keyed, [item(CLIENT, 1, "ACME Corp."), device(1, "Odd one", serial="OTHER001")])
    resource_id = rows(keyed, "SELECT id FROM resource WHERE external_id = '1' AND type = 'device' AND integration_id"
                              " = (SELECT id FROM integration WHERE name = ?)", NAME)[0][0]
    actions.exclude(keyed, rows(keyed, "SELECT id FROM resource WHERE external_id = '50'")[0][0])
    actions.rematch(keyed, resource_id, target)
    for _ in range(2):
        run(keyed, [item(CLIENT, 1, "ACME Corp."), device(1, "Odd one", serial="OTHER001")], create_missing=True)
        assert how(keyed, 1)[:3] == ("matched", target, "operator")


def test_match_on_from_the_config_chooses_the_rules(keyed):
    run(keyed, [item(CLIENT, 1, "ACME Corp."), device(1, "Front desk laptop", serial="5CG7")], match_on=(Rule.NAME,))
    assert how(keyed, 1) == ("not_synced", None, None, "no unlinked device record of that name")


@pytest.mark.parametrize("engine", ["postgresql"])
def test_a_connection_lost_mid_page_rolls_the_page_back_and_the_run_says_so(documented, monkeypatch):
    """The server drops the sync's connection inside its second page: that page is rolled back,
    the first stays, the run is recorded as stopped part way with the one line, and the next run
    completes it."""
    import psycopg

    writer = sync._PageWriter
    original, calls = writer.write, []

    def lose_the_connection(self):
        calls.append(1)
        if len(calls) == 2:
            pid = self.cur.execute("SELECT pg_backend_pid()").fetchone()[0]
            with psycopg.connect(str(documented.path), autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        return original(self)

    monkeypatch.setattr(writer, "write", lose_the_connection)
    with pytest.raises(SyncError) as caught:
        run(documented)
    assert caught.value.report.outcome == "partial"
    assert "lost the connection to the PostgreSQL server" in caught.value.report.message
    assert "rolled back" in caught.value.report.message
    assert set(resources(documented)) == {"1", "10"}  # the first page only
    monkeypatch.setattr(writer, "write", original)
    run(documented)
    assert set(resources(documented)) == {str(i.external_id) for i in SOURCE}
