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
        levels = {str(table.get_row_at(i)[1]) for i in range(table.row_count)}
        assert levels == {"error"}
        # ...and every error of the range is there, not just some (an empty table passes the above).
        since = parse_when(dialog.query_one("#since", Input).value)
        [(errors,)] = rows(demo_store, "SELECT count(*) FROM sync_log_entry WHERE integration_id = ? "
                                       "AND level = 'error' AND time >= ?", dialog.integration.id, db_time(since))
        assert table.row_count == errors > 0


async def test_details_show_payload_and_history(app, demo_store):
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("S", "enter", "down", "down", "down", "enter")  # Excluded: they have history
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
        assert lines[0].startswith("Name") and "Last seen" in lines[0] and "Remote company" not in lines[0]
        assert app.screen.query_one(ResourceTable).region.height >= 12
        assert all(len(line) <= 80 for line in lines)


async def test_quit_with_q(app):
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running
    assert app.return_code == 0  # a crash would end it too, with 1
