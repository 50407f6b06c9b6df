"""The audit history by action, what one sync run changed, and the state the screen remembers."""

from __future__ import annotations

import json
from datetime import timedelta

from syncview.domain import SyncStatus
from syncview.services import actions, bulk, history, queries
from syncview.services.queries import ResourceFilter
from syncview.services.run_diff import run_diff, runs
from syncview.store.db import utcnow
from syncview.tui.state import MAX_STORES, UiState, ViewState
from tests.helpers import rows
from tests.unit.test_sync import CLIENT, DEVICE, SOURCE, documented, item, run  # noqa: F401 - fixture


def _cw(store) -> int:
    return queries.get_integration(store, "ConnectWise Manage").id


def test_batches_one_row_per_action_newest_first_with_filters(demo_store):
    flt = ResourceFilter(_cw(demo_store), status=SyncStatus.EXCLUDED)
    excluded = queries.count_resources(demo_store, flt)
    first = queries.resource_page(demo_store, ResourceFilter(_cw(demo_store), status=SyncStatus.MATCHED), limit=1)[0]
    actions.exclude(demo_store, first.id, operator="tester")
    bulk.include(demo_store, bulk.Marks((flt,)), operator="tester")
    mine = history.batches(demo_store, operator="tester")
    assert [(b.action, b.resources) for b in mine] == [("include", excluded + 1), ("exclude", 1)]
    assert mine[1].what == f"{first.type.value} {first.name!r}"
    assert (mine[1].before, mine[1].after) == (SyncStatus.MATCHED, SyncStatus.EXCLUDED)
    assert mine[0].what.startswith(f"{excluded + 1} resources (") and mine[0].change == "Excluded → Not Synced"

    everyone = history.batches(demo_store)
    assert len(everyone) > len(mine) and everyone[:2] == mine
    assert {b.operator for b in everyone} == set(history.operators(demo_store)) == {
        "tester", "akumar", "jsmith", "mlopez"}
    excludes = history.batches(demo_store, action="exclude", limit=100_000)
    [(exclude_batches,)] = rows(demo_store, "SELECT count(DISTINCT batch) FROM audit_event WHERE action = 'exclude'")
    assert len(excludes) == exclude_batches > 1 and all(b.action == "exclude" for b in excludes)
    recent = history.batches(demo_store, since=utcnow() - timedelta(minutes=5))
    assert recent == mine
    assert history.batches(demo_store, until=utcnow() - timedelta(days=365)) == []

    actions.undo(demo_store, operator="tester")
    undone = history.batches(demo_store, operator="tester")
    assert undone[0].action == "undo" and undone[1].undone_by == undone[0].batch


def test_batch_events_and_their_states_in_words(demo_store):
    row = queries.resource_page(demo_store, ResourceFilter(_cw(demo_store), status=SyncStatus.MATCHED), limit=1)[0]
    result = actions.exclude(demo_store, row.id, disable_record=True, operator="tester")
    (event,) = history.batch_events(demo_store, result.batch)
    assert (event.resource_id, event.name) == (row.id, row.name)
    assert history.describe_state(event.before) == (f"Matched to record {row.record_id}, "
                                                    f"record {row.record_id} enabled")
    assert history.describe_state(event.after) == f"Excluded, record {row.record_id} disabled"
    names = history.record_names(demo_store, [event.before, event.after])
    assert names == {row.record_id: row.record_name}
    assert history.describe_state(event.before, names) == (f"Matched to record {row.record_name!r}, "
                                                           f"record {row.record_name!r} enabled")


def test_run_diff_lists_what_a_run_matched_left_created_and_removed(documented):
    first = run(documented)
    diff = run_diff(documented, first.run_id)
    assert diff.outcome == "success" and diff.fetched == len(SOURCE) and diff.new_resources == len(SOURCE)
    assert sorted(i.name for i in diff.section("matched")) == ["ACME Corp.", "Ana Brown", "acme-ws-001"]
    assert sorted(i.name for i in diff.section("not_synced")) == ["ACME-WS-002", "GLOBEX-1", "Globex"]
    assert diff.section("created") == diff.section("removed") == [] and diff.complete

    source = [*SOURCE[:1], *SOURCE[2:], item(DEVICE, 12, "ACME-WS-003")]  # acme-ws-001 gone, a new one
    second = run(documented, source, create_missing=True, full=True)
    diff = run_diff(documented, second.run_id)
    assert [i.name for i in diff.section("removed")] == ["acme-ws-001"]
    assert sorted(i.name for i in diff.section("created")) == ["ACME-WS-002", "ACME-WS-003", "GLOBEX-1", "Globex"]
    assert all(i.status_now is SyncStatus.MATCHED for i in diff.section("created"))
    assert diff.new_resources == 1 and diff.created == 4 and diff.removed == 1
    integration_id = queries.list_integrations(documented)[0].id
    assert [r[0] for r in runs(documented, integration_id)] == [second.run_id, first.run_id]


def test_a_full_sync_reports_the_counts_the_tiles_show_and_its_removals_as_it_lists_them(documented):
    run(documented)
    source = [*SOURCE[:1], *SOURCE[2:]]  # one gone remotely
    report = run(documented, source, full=True)
    integration_id = queries.list_integrations(documented)[0].id
    totals = queries.integration_totals(documented, integration_id)
    c = report.counts
    # The toast's "now" numbers are the tiles' numbers: live resources, the removed one apart.
    assert (c.matched, c.not_synced, c.excluded, c.removed_total) == (
        totals.by_status[SyncStatus.MATCHED], totals.by_status[SyncStatus.NOT_SYNCED],
        totals.by_status[SyncStatus.EXCLUDED], totals.removed)
    assert totals.removed == 1 and c.fetched == totals.total == len(source)
    assert f"now {c.standing()}" in report.summary() and "1 newly removed remotely" in report.summary()
    diff = run_diff(documented, report.run_id)
    assert diff.removed == len(diff.section("removed")) == 1
    assert (diff.matched, diff.not_synced) == (c.matched, c.not_synced)


def test_the_demo_runs_count_what_they_list(demo_store):
    for integration in queries.list_integrations(demo_store):
        for run_id, _started, outcome in runs(demo_store, integration.id)[:30]:
            diff = run_diff(demo_store, run_id)
            assert diff.removed == len(diff.section("removed")), (run_id, outcome)


def test_ui_state_survives_a_restart_and_ignores_a_damaged_file(tmp_path):
    path = tmp_path / "state" / "tui-state.json"
    state = UiState(path)
    assert state.theme is None and state.view(tmp_path / "a.db") == ViewState()
    state.set_theme("nord")
    state.set_view(tmp_path / "a.db", ViewState("Datto RMM", 12, "device", "not_synced", "ws"))
    again = UiState(path)
    assert again.theme == "nord"
    assert again.view(tmp_path / "a.db") == ViewState("Datto RMM", 12, "device", "not_synced", "ws")
    assert again.view(tmp_path / "b.db") == ViewState()
    for n in range(MAX_STORES + 5):
        again.set_view(tmp_path / f"s{n}.db", ViewState("X"))
    assert len(json.loads(path.read_text())["stores"]) == MAX_STORES

    path.write_text("{not json")
    assert UiState(path).theme is None
    path.write_text(json.dumps({"theme": 3, "stores": {str(tmp_path / "a.db"): {"client": "x", "text": None}}}))
    damaged = UiState(path)
    assert damaged.theme is None and damaged.view(tmp_path / "a.db") == ViewState()


def test_ui_state_write_failure_is_ignored(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    state = UiState(blocker / "tui-state.json")  # its directory cannot be created
    state.set_theme("nord")
    assert state.theme == "nord"


def test_two_instances_on_different_stores_keep_each_others_view(tmp_path):
    """Each syncview changes only its own store's entry in the file as it is now, not its copy."""
    path = tmp_path / "tui-state.json"
    first, second = UiState(path), UiState(path)  # both started before either wrote
    first.set_view(tmp_path / "a.db", ViewState("ConnectWise Manage", text="acme"))
    second.set_view(tmp_path / "b.db", ViewState("Datto RMM", status="excluded"))
    first.set_theme("nord")
    again = UiState(path)
    assert again.view(tmp_path / "a.db") == ViewState("ConnectWise Manage", text="acme")
    assert again.view(tmp_path / "b.db") == ViewState("Datto RMM", status="excluded")
    assert again.theme == "nord"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []


def test_two_processes_writing_at_once_lose_no_entry(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "tui-state.json"
    script = ("import sys; from pathlib import Path; from syncview.tui.state import UiState, ViewState\n"
              "state = UiState(Path(sys.argv[1]))\n"
              "for n in range(15): state.set_view(Path(f'{sys.argv[2]}{n}.db'), ViewState(sys.argv[2]))\n")
    procs = [subprocess.Popen([sys.executable, "-c", script, str(path), str(tmp_path / name)])
             for name in ("p", "q")]
    assert [proc.wait(timeout=60) for proc in procs] == [0, 0]
    stores = json.loads(path.read_text())["stores"]
    assert len(stores) == MAX_STORES  # 30 written, the 20 most recent kept, none lost to a race


def test_a_server_store_is_remembered_by_its_url_whatever_the_current_directory(tmp_path, monkeypatch):
    from syncview.store.dialect import shown_url
    from syncview.tui.state import UiState, ViewState

    url = shown_url("postgresql://ops:hunter2@db.example:5432/syncview")
    monkeypatch.chdir(tmp_path)
    UiState(tmp_path / "state.json").set_view(url, ViewState("Datto RMM", text="ws"))
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert UiState(tmp_path / "state.json").view(url) == ViewState("Datto RMM", text="ws")
    assert "hunter2" not in (tmp_path / "state.json").read_text(encoding="utf-8")
