"""The logs dialog, the details screen, help, the command palette and small terminals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from textual.widgets import DataTable, Input

from syncview.services import queries
from syncview.store.db import db_time
from syncview.timeutil import local_midnight, parse_when
from syncview.tui.screens.details import DetailsScreen
from syncview.tui.screens.help import HelpScreen
from syncview.tui.screens.logs import SyncLogsDialog
from syncview.tui.screens.overview import OverviewScreen
from syncview.tui.widgets.resource_table import ResourceTable
from tests.helpers import rows
from tests.tui.conftest import settle, static_text, table_lines


def _log_count(store, since, until=None) -> int:
    integration = queries.get_integration(store, "ConnectWise Manage")
    return len(queries.log_entries(store, integration.id, since=since, until=until or datetime.now(UTC)))


async def test_logs_dialog_shows_the_entries_of_a_date_range(app, demo_store):
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("l")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, SyncLogsDialog)
        week = local_midnight(datetime.now().date() - timedelta(days=6))
        assert dialog.query_one(DataTable).row_count == _log_count(demo_store, week)

        await pilot.press("ctrl+o")  # last 30 days
        await settle(pilot)
        month = local_midnight(datetime.now().date() - timedelta(days=29))
        assert dialog.query_one(DataTable).row_count == _log_count(demo_store, month) > 0

        # a range typed by hand: from 20 days ago to 10 days ago
        since, until = (datetime.now() - timedelta(days=20)).date(), (datetime.now() - timedelta(days=10)).date()
        for field, value in (("#since", since.isoformat()), ("#until", until.isoformat())):
            dialog.query_one(field, Input).focus()
            await pilot.press("ctrl+a", "ctrl+k", *value)
        await settle(pilot)
        expected = _log_count(demo_store, local_midnight(since), local_midnight(until))
        assert dialog.query_one(DataTable).row_count == expected > 0

        dialog.query_one("#since", Input).focus()
        await pilot.press("ctrl+a", "ctrl+k", *"last tuesday")
        await settle(pilot)
        assert "cannot read" in str(dialog.query_one(".dialog").border_subtitle)
        await pilot.press("escape")
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, OverviewScreen)


async def test_logs_dialog_level_filter(app, demo_store):
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("l", "ctrl+o")
        await settle(pilot)
        dialog = app.screen
        dialog.query_one("#level").focus()
        await pilot.press("enter", "down", "down", "enter")  # Errors
        await settle(pilot)
        table = dialog.query_one(DataTable)
        levels = {str(table.get_row_at(i)[2]) for i in range(table.row_count)}  # Run, Time, Level
        assert levels == {"error"}
        # ...and every error of the range is there, not just some (an empty table passes the above).
        since = parse_when(dialog.query_one("#since", Input).value)
        [(errors,)] = rows(demo_store, "SELECT count(*) FROM sync_log_entry WHERE integration_id = ? "
                                       "AND level = 'error' AND time >= ?", dialog.integration.id, db_time(since))
        assert table.row_count == errors > 0


async def test_details_show_payload_and_history(app, demo_store):
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("S", "down", "down", "down", "enter")  # Excluded: they have history
        await settle(pilot)
        row = app.screen.query_one(ResourceTable).current_row
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, DetailsScreen)
        rendered = static_text(app.screen.query_one("#detail"))
        assert row.external_id in rendered and "exclude" in rendered
        assert "Not Synced → Excluded" in rendered  # the audit snapshots in words, not status=...
        await pilot.press("escape")


async def test_help_lists_every_key_and_keymap_overrides_apply(demo_store):
    from syncview.config import Config
    from syncview.tui.app import SyncviewApp

    app = SyncviewApp(demo_store, Config(path=None, keymap={"overview.exclude": "X"}), operator="tester")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await settle(pilot)
        keys = app.screen.query_one("Static")
        # As painted in the dialog's width: each key beside what it does and its binding id.
        painted = [keys.render_line(y).text.split() for y in range(keys.size.height)]
        lines = {tuple(words) for words in painted if len(words) == 3}
        for line in (("m", "Re-match", "overview.rematch"), ("X", "Exclude", "overview.exclude"),
                     ("i", "Include", "overview.include"), ("u", "Undo", "overview.undo"),
                     ("l", "Logs", "overview.logs"), ("/", "Filter", "overview.filter"), ("q", "Quit", "app.quit")):
            assert line in lines, f"{line} not painted; help shows {painted[:12]}"
        await pilot.press("escape")
        await pilot.press("X")
        await settle(pilot)
        assert type(app.screen).__name__ == "ExcludeDialog"


async def test_command_palette_offers_the_screen_actions(app, demo_store):
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p", *"view sync logs")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, SyncLogsDialog)


async def test_fits_an_80_by_24_terminal(app, demo_store):
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        lines = table_lines(app)
        # Below 100 columns Last seen gives the name its room (the tile says when the last sync
        # was, the details when the row was seen); Type and Status stay, as the rows differ there.
        assert lines[0].startswith("Name") and "Remote company" not in lines[0]
        assert "Last seen" not in lines[0] and "Type" in lines[0] and "Status" in lines[0]
        assert app.screen.query_one(ResourceTable).region.height >= 12
        assert all(len(line) <= 80 for line in lines)


async def test_quit_with_q(app):
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running
    assert app.return_code == 0  # a crash would end it too, with 1


async def test_enter_right_after_exclude_or_a_bulk_action_changes_nothing(app, demo_store):
    from syncview.tui.screens.confirm import BulkExcludeDialog, ConfirmDialog
    from syncview.tui.screens.exclude import ExcludeDialog

    before = rows_of(demo_store)
    for size in ((80, 24), (120, 40)):
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            await pilot.press("x")
            await settle(pilot)
            assert isinstance(app.screen, ExcludeDialog) and app.screen.focused.id == "cancel"
            await pilot.press("enter")
            await settle(pilot)
            await pilot.press("slash", *"acme", "enter", "asterisk", "x")
            await settle(pilot)
            assert isinstance(app.screen, BulkExcludeDialog) and app.screen.focused.id == "cancel"
            await pilot.press("enter", "i")
            await settle(pilot)
            assert isinstance(app.screen, ConfirmDialog) and app.screen.focused.id == "no"
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, OverviewScreen)
        app = type(app)(demo_store, operator="tester")
    assert rows_of(demo_store) == before


def rows_of(store) -> list[tuple]:
    from tests.helpers import rows

    return rows(store, "SELECT id, status, record_id, version FROM resource ORDER BY id")


async def test_screenshot_from_the_palette_without_downloads_saves_to_the_state_dir_and_says_where(
        app, tmp_path, monkeypatch):
    import platformdirs

    home = tmp_path / "nohome"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))  # no ~/Downloads
    monkeypatch.setenv("XDG_DOWNLOAD_DIR", str(home / "Downloads"))
    assert not platformdirs.user_downloads_path().is_dir()
    shots = platformdirs.user_state_path("syncview") / "screenshots"
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p", *"screenshot")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause(0.5)
        saved = list(shots.glob("*.svg"))
        assert len(saved) == 1 and "<svg" in saved[0].read_text()
        assert any(n.message == f"Screenshot saved to {saved[0]}" for n in app._notifications)


async def test_undo_from_another_integrations_screen_names_the_integration_it_changes(app, demo_store):
    from syncview.tui.screens.confirm import ConfirmDialog

    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.screen.integration.name == "ConnectWise Manage"
        await pilot.press("x", "ctrl+s")  # exclude the first row of ConnectWise Manage
        await settle(pilot)
        await pilot.press("I", "down", "enter")  # Datto RMM
        await settle(pilot)
        assert app.screen.integration.name == "Datto RMM"
        await pilot.press("u")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        said = static_text(app.screen.query_one("#what"))
        assert said.startswith("This changes ConnectWise Manage, not Datto RMM on screen.")
        assert " in ConnectWise Manage" in said


async def test_the_logs_name_each_run_on_its_first_line_and_an_action_as_one(app, demo_store):
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("x", "ctrl+s")
        await settle(pilot)
        await pilot.press("l")
        await settle(pilot)
        dialog = app.screen
        table = dialog.query_one(DataTable)
        runs = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
        assert runs[0] == "action"  # the exclude, newest
        firsts = [i for i, run in enumerate(runs) if run.startswith("run ")]
        assert len(firsts) >= 2 and all(runs[i] == "│" for i in range(firsts[0] + 1, firsts[1]))
        assert [dialog._rows[i].sync_run_id for i in firsts] == sorted(
            {r.sync_run_id for r in dialog._rows if r.sync_run_id is not None},
            key=[r.sync_run_id for r in dialog._rows].index)


async def test_history_names_the_integration_and_fits_without_sideways_scrolling(app, demo_store):
    for size in ((80, 24), (120, 40)):
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            await pilot.press("h")
            await settle(pilot)
            table = app.screen.query_one("#batches", DataTable)
            labels = [str(column.label) for column in table.columns.values()]
            assert "Integration" in labels and labels[-1] == "What"
            assert ("Before → after" in labels) == (size == (120, 40))
            assert table.row_count and table.max_scroll_x == 0, (size, table.virtual_size, table.size)
            names = {str(table.get_row_at(i)[labels.index("Integration")]) for i in range(table.row_count)}
            assert names <= {"ConnectWise Manage", "Datto RMM", "—"} and names & {"ConnectWise Manage", "Datto RMM"}
        app = type(app)(demo_store, operator="tester")
