"""Marks and bulk actions, suggestions, history with undo/redo, sync diff and export, driven by keys."""

from __future__ import annotations

import csv
import json

from textual.widgets import DataTable, Input

from syncview.domain import SyncStatus
from syncview.services import bulk, proposals, queries
from syncview.services.queries import ResourceFilter
from syncview.tui.screens.confirm import BulkExcludeDialog, ConfirmDialog
from syncview.tui.screens.export import ExportDialog
from syncview.tui.screens.help import HelpScreen
from syncview.tui.screens.history import BatchEventsDialog, HistoryScreen
from syncview.tui.screens.logs import SyncLogsDialog
from syncview.tui.screens.overview import OverviewScreen
from syncview.tui.screens.proposals import ProposalsScreen
from syncview.tui.screens.rematch import RematchDialog
from syncview.tui.screens.run_diff import RunDiffDialog
from syncview.tui.widgets.resource_table import ResourceTable
from syncview.tui.widgets.tiles import number
from tests.helpers import rows
from tests.tui.conftest import settle, static_text, table_lines


def _cw(store) -> int:
    return queries.get_integration(store, "ConnectWise Manage").id


def _subtitle(app) -> str:
    return str(app.screen.query_one("#sync-status").border_subtitle)


def _batches(store) -> list[tuple]:
    return rows(store, "SELECT action, count(*) FROM audit_event WHERE operator = 'tester' "
                       "GROUP BY batch ORDER BY min(id)")


async def _filter(pilot, text: str) -> None:
    await pilot.press("slash", *text, "enter")
    await settle(pilot)


async def test_space_marks_rows_with_a_gutter_and_the_count_shows_under_the_table(app, demo_store):
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(ResourceTable)
        assert not table_lines(app)[1].startswith("●")
        await pilot.press("space", "space", "k")  # marks two rows, the cursor moves down each time
        await settle(pilot)
        lines = table_lines(app)
        assert lines[0].startswith("  Name") and lines[1].startswith("● ") and lines[2].startswith("● ")
        assert lines[3].startswith("  ")
        assert _subtitle(app).startswith("● 2 marked · ")
        await pilot.press("space")  # the cursor is back on the second row: unmark it
        await settle(pilot)
        assert _subtitle(app).startswith("● 1 marked · ")
        await pilot.press("minus")
        await settle(pilot)
        assert not table.marks and table_lines(app)[0].startswith("Name")
        assert "marked" not in _subtitle(app)


async def test_mark_all_keeps_a_filter_not_a_million_ids(app, demo_store):
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await _filter(pilot, "globex")
        await pilot.press("asterisk")
        await settle(pilot)
        marks = app.screen.query_one(ResourceTable).marks
        flt = ResourceFilter(_cw(demo_store), text="globex")
        assert marks.filters == (flt,) and not marks.added
        expected = queries.count_resources(demo_store, flt)
        assert _subtitle(app).startswith(f"● {number(expected)} marked")
        await pilot.press("escape")  # clear the filter: the marks stay, the count too
        await settle(pilot)
        assert _subtitle(app).startswith(f"● {number(expected)} marked · ")
        assert any(line.startswith("  ") for line in table_lines(app)[1:])  # unmarked rows now in view


async def test_bulk_exclude_with_disable_records_is_one_undo(app, demo_store):
    flt = ResourceFilter(_cw(demo_store), text="globex", status=SyncStatus.MATCHED)
    targets = list(queries.iter_resources(demo_store, flt))
    assert len(targets) > 5
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("S", "down", "enter")  # status: Matched
        await settle(pilot)
        await _filter(pilot, "globex")  # ends in the table (enter)
        await pilot.press("asterisk", "x")
        await settle(pilot)
        assert isinstance(app.screen, BulkExcludeDialog)
        assert f"{number(len(targets))} marked resources" in static_text(app.screen.query_one(".question"))
        await pilot.press("shift+tab", "shift+tab", "space", "ctrl+s")  # from Cancel: "Disable their records" on
        await settle(pilot)
        assert isinstance(app.screen, OverviewScreen)
        now = {r.id: r for r in queries.iter_resources(demo_store, ResourceFilter(_cw(demo_store), text="globex"))}
        assert all(now[r.id].status is SyncStatus.EXCLUDED for r in targets)
        disabled = rows(demo_store, "SELECT count(*) FROM record WHERE disabled AND id IN (%s)"
                        % ",".join(str(r.record_id) for r in targets))[0][0]
        assert disabled == len(targets)
        assert _batches(demo_store) == [("exclude", len(targets))]
        assert not app.screen.query_one(ResourceTable).marks  # used up by the action
        assert any("excluded" in n.message and str(len(targets)) in n.message for n in app._notifications)

        await pilot.press("u")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        assert app.screen.title_text == f"Undo exclude of {len(targets)} resources?"
        await pilot.press("enter")
        await settle(pilot)
        back = {r.id: r for r in queries.iter_resources(demo_store, flt)}
        assert {r.id: (r.status, r.record_id, r.record_disabled) for r in targets} == {
            i: (r.status, r.record_id, r.record_disabled) for i, r in back.items()}


async def test_bulk_include_of_marked_excluded_rows(app, demo_store):
    excluded = ResourceFilter(_cw(demo_store), status=SyncStatus.EXCLUDED)
    ids = [r.id for r in queries.iter_resources(demo_store, excluded)]
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("S", "down", "down", "down", "enter")  # status: Excluded
        await settle(pilot)
        await pilot.press("escape", "space", "space", "space", "i")  # back to the table, mark three
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog) and "Include 3 marked resources" in app.screen.title_text
        await pilot.press("y")
        await settle(pilot)
        assert queries.count_resources(demo_store, excluded) == len(ids) - 3
        assert _batches(demo_store) == [("include", 3)]


async def test_bulk_rematch_preview_skip_one_choose_another_then_confirm(app, demo_store):
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await _filter(pilot, "acme-lt-0")  # Not Synced laptops of a client whose company is unmatched
        names = [r.name for r in queries.resource_page(
            demo_store, ResourceFilter(_cw(demo_store), text="acme-lt-0"), limit=3)]
        await pilot.press("space", "space", "space", "m")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ProposalsScreen)
        table = screen.query_one(DataTable)
        assert table.row_count == 3
        proposals = list(screen.proposals.values())
        assert [p.resource_name for p in proposals] == names
        assert [p.record_name for p in proposals] == names  # each to its own record, scored 100
        await pilot.press("space")  # skip the first
        await pilot.press("down", "m")  # another record for the second
        await settle(pilot)
        assert isinstance(app.screen, RematchDialog)
        await pilot.press(*"acme-lt-1", "down", "enter")
        await settle(pilot)
        assert app.screen is screen
        other = screen.proposals[str(proposals[1].resource_id)]
        assert other.record_name.startswith("ACME-LT-1") and other.record_name != names[1]
        assert "2 to re-match of 3" in str(screen.query_one(".dialog").border_subtitle)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, OverviewScreen)
    first, second, third = (queries.get_resource(demo_store, p.resource_id) for p in proposals)
    assert first.status is SyncStatus.NOT_SYNCED
    assert (second.status, second.record_id) == (SyncStatus.MATCHED, other.record_id)
    assert (third.status, third.record_name) == (SyncStatus.MATCHED, names[2])
    assert _batches(demo_store) == [("rematch", 2)]


async def test_suggested_view_accept_one_then_the_ticked_in_bulk(app, demo_store):
    expected = proposals.suggestions(demo_store, _cw(demo_store))
    assert len(expected) > 3
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ProposalsScreen)
        table = screen.query_one(DataTable)
        assert table.row_count == len(expected)
        assert [str(table.get_row_at(i)[1]) for i in range(table.row_count)] == [f"{p.score:.0f}" for p in expected]
        by_id = {p.resource_id: p for p in expected}
        first, second = (by_id[int(table.coordinate_to_cell_key((i, 0)).row_key.value)] for i in (0, 1))
        await pilot.press("enter")  # accept the first at once
        await settle(pilot)
        assert table.row_count == len(expected) - 1
        accepted = queries.get_resource(demo_store, first.resource_id)
        assert (accepted.status, accepted.record_id) == (SyncStatus.MATCHED, first.record_id)
        await pilot.press("space")  # flip the next one: skip it if ticked, tick it if not
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, OverviewScreen)
    ticked = [p for p in expected if p not in (first, second) and p.preselected]
    if not second.preselected:
        ticked.append(second)
    for proposal in expected:
        if proposal is not first:
            now = queries.get_resource(demo_store, proposal.resource_id)
            assert (now.record_id == proposal.record_id) is (proposal in ticked), proposal
    assert _batches(demo_store) == [("rematch", 1), ("rematch", len(ticked))]


async def test_history_filters_and_undo_redo_with_confirmation(app, demo_store):
    flt = ResourceFilter(_cw(demo_store), status=SyncStatus.EXCLUDED)
    excluded = queries.count_resources(demo_store, flt)
    bulk.include(demo_store, bulk.Marks((flt,)), operator="tester")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("h")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        table = screen.query_one(DataTable)
        first = [str(cell) for cell in table.get_row_at(0)]
        assert first[1:5] == ["tester", "include", "ConnectWise Manage", "Excluded → Not Synced"]
        assert first[5].startswith(f"{excluded} resources (")
        everyone = table.row_count
        screen.query_one("#operator").focus()
        await pilot.press("enter", "down", "enter")  # the first operator by name: akumar
        await settle(pilot)
        assert 0 < table.row_count < everyone
        assert {str(table.get_row_at(i)[1]) for i in range(table.row_count)} == {"akumar"}

        table.focus()
        await pilot.press("enter")  # the resources of that action
        await settle(pilot)
        assert isinstance(app.screen, BatchEventsDialog)
        await pilot.press("escape")

        await pilot.press("u")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        assert app.screen.title_text == f"Undo include of {excluded} resources?"
        what = static_text(app.screen.query_one("#what"))
        assert "Not Synced → Excluded" in what
        assert "\\x0a" not in what and len(what.strip().splitlines()) > 1  # one line each, not escaped breaks
        await pilot.press("enter")
        await settle(pilot)
        assert queries.count_resources(demo_store, flt) == excluded
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert app.screen.title_text == f"Redo include of {excluded} resources?"
        await pilot.press("escape")  # cancelled: nothing happens
        await settle(pilot)
        assert queries.count_resources(demo_store, flt) == excluded
        await pilot.press("ctrl+r", "enter")
        await settle(pilot)
        assert queries.count_resources(demo_store, flt) == 0
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, OverviewScreen)
    assert [a for a, _ in _batches(demo_store)] == ["include", "undo", "redo"]


async def test_redo_from_the_overview_and_nothing_to_redo(app, demo_store):
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        row = app.screen.query_one(ResourceTable).current_row
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert any("Nothing to redo" in n.message for n in app._notifications)
        await pilot.press("x", "ctrl+s")  # exclude the first row
        await settle(pilot)
        assert queries.get_resource(demo_store, row.id).status is SyncStatus.EXCLUDED
        await pilot.press("u", "enter")
        await settle(pilot)
        assert queries.get_resource(demo_store, row.id).status is row.status
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog) and "Redo exclude of one resource" in app.screen.title_text
        await pilot.press("enter")
        await settle(pilot)
    assert queries.get_resource(demo_store, row.id).status is SyncStatus.EXCLUDED


async def test_sync_diff_from_the_logs_dialog(app, demo_store):
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("l")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, SyncLogsDialog)
        table = dialog.query_one(DataTable)
        index = next(i for i, row in enumerate(dialog._rows) if "not synced:" in row.message)
        table.move_cursor(row=index)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, RunDiffDialog)
        shown = static_text(app.screen.query_one("#diff"))
        assert f"Run {dialog._rows[index].sync_run_id}" in shown and "Newly Not Synced" in shown
        assert dialog._rows[index].resource_name in shown
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is dialog


async def test_export_the_view_then_the_marked_rows(app, demo_store, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await _filter(pilot, "globex")
        await pilot.press("e")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ExportDialog)
        path = dialog.query_one("#path", Input).value
        assert path.startswith(str(tmp_path)) and path.endswith(".csv")
        await pilot.press("enter")
        await settle(pilot)
        with open(path, newline="", encoding="utf-8") as handle:
            exported = list(csv.DictReader(handle))
        expected = queries.count_resources(demo_store, ResourceFilter(_cw(demo_store), text="globex"))
        assert len(exported) == expected and all("GLOBEX" in r["name"].upper() for r in exported)

        await pilot.press("space", "space", "e")
        await settle(pilot)
        app.screen.query_one("#format").focus()
        await pilot.press("enter", "down", "enter")  # JSON
        app.screen.query_one("#path", Input).focus()
        await pilot.press("ctrl+a", "ctrl+k", *"marked.json", "enter")
        await settle(pilot)
    data = json.loads((tmp_path / "marked.json").read_text(encoding="utf-8"))
    assert len(data) == 2 and all("GLOBEX" in r["name"].upper() for r in data)


async def test_help_and_palette_offer_the_triage_keys(app, demo_store):
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        shown = static_text(app.screen.query_one("Static"))
        for description in ("Mark all", "Unmark all", "Suggested", "History", "Export", "Redo", "Tick / skip",
                            "Re-match all", "Undo mine", "What the run changed", "Confirm"):
            assert description in shown, description
        await pilot.press("escape")
        await pilot.press("ctrl+p", *"suggested matches")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ProposalsScreen)


async def test_triage_dialogs_fit_80_by_24(app, demo_store, tmp_path):
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("space", "space")
        await settle(pilot)
        assert all(len(line) <= 80 for line in table_lines(app))
        await pilot.press("m")
        await settle(pilot)
        proposals = app.screen
        assert isinstance(proposals, ProposalsScreen)
        assert proposals.query_one("#apply").region.bottom <= 24
        assert proposals.query_one(DataTable).region.height >= 8
        app.save_screenshot(str(tmp_path / "proposals.svg"))
        await pilot.press("escape", "x")
        await settle(pilot)
        assert app.screen.query_one("#confirm").region.bottom <= 24
        await pilot.press("escape", "h")
        await settle(pilot)
        assert app.screen.query_one(DataTable).region.height >= 10


async def test_integration_client_filters_and_theme_are_remembered_between_runs(demo_store):
    from syncview.tui.app import SyncviewApp

    rmm = queries.get_integration(demo_store, "Datto RMM")
    client = queries.integration_clients(demo_store, rmm.id)[1]
    first = SyncviewApp(demo_store, operator="tester")
    async with first.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("I", "down", "enter")  # Datto RMM
        await settle(pilot)
        await pilot.press("c", *client.name[:6].lower(), "enter")
        await settle(pilot)
        await pilot.press("S", "down", "down", "enter")  # Not Synced
        await settle(pilot)
        await pilot.press("slash", *"ws", "enter")
        await settle(pilot)
        await pilot.press("ctrl+p", *"theme")  # the palette's Theme command
        await settle(pilot)
        await pilot.press("enter", *"nord")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert first.theme == "nord"
        remembered = first.screen.current_filter()
    assert remembered.integration_id == rmm.id and remembered.client_id == client.id

    again = SyncviewApp(demo_store, operator="tester")
    async with again.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert again.theme == "nord"
        assert again.screen.current_filter() == remembered
        shown = [line for line in table_lines(again)[1:] if line.strip()]
        assert shown and all(" Not Synced " in line for line in shown)


async def test_triage_keys_can_be_rebound_from_the_config(demo_store):
    from syncview.config import Config
    from syncview.tui.app import SyncviewApp

    app = SyncviewApp(demo_store, Config(path=None, keymap={"overview.mark": "v", "overview.history": "H"}),
                      operator="tester")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("v")
        await settle(pilot)
        assert _subtitle(app).startswith("● 1 marked")
        await pilot.press("H")
        await settle(pilot)
        assert isinstance(app.screen, HistoryScreen)


async def test_the_export_dialog_names_the_chosen_client(app, demo_store):
    cw = queries.get_integration(demo_store, "ConnectWise Manage")
    client = queries.integration_clients(demo_store, cw.id)[2]
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("c", *client.name[:6].lower(), "enter")
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        assert isinstance(app.screen, ExportDialog)
        assert app.screen.describe == f"View: all resources of {client.name}"
