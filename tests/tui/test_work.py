"""One error path for every worker of the screen (tui/work.py): a failed read or action, in any
dialog, is one notification line that names what failed, said in place where the dialog has a
place for it, and the app goes on."""

from __future__ import annotations

import sqlite3
from contextlib import closing

from syncview.errors import SyncviewError
from syncview.redaction import remember
from syncview.tui.app import SyncviewApp
from syncview.tui.screens.logs import SyncLogsDialog
from syncview.tui.work import failure_line
from tests.tui.conftest import settle


def test_a_syncview_error_is_shown_as_it_is_and_anything_else_names_what_failed():
    assert failure_line("reading the log", SyncviewError("the store is locked: retry")) == (
        "Not done", "the store is locked: retry")
    remember("s3cret-T0ken")  # kept: clearing would forget what other tests remembered too
    title, line = failure_line("the export", KeyError("Bearer s3cret-T0ken"))
    assert title == "Unexpected error"
    assert line.startswith("the export failed: KeyError: ") and "s3cret-T0ken" not in line and "***" in line


def _errors(app) -> list[str]:
    return [n.message for n in app._notifications if n.severity == "error"]


async def test_a_dialog_whose_read_fails_says_so_once_and_the_app_goes_on(demo_store):
    app = SyncviewApp(demo_store, operator="tester")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        with closing(sqlite3.connect(demo_store.path)) as conn:  # the log is gone under the screen
            conn.execute("ALTER TABLE sync_log_entry RENAME TO sync_log_entry_away")
        await pilot.press("l")
        await settle(pilot)
        assert isinstance(app.screen, SyncLogsDialog)
        errors = _errors(app)
        assert len(errors) == 1, errors  # one line, not one per handler
        assert "no such table: sync_log_entry" in errors[0], errors  # the store's own words
        assert "could not read the log" in str(app.screen.query_one(".dialog").border_subtitle)
        with closing(sqlite3.connect(demo_store.path)) as conn:
            conn.execute("ALTER TABLE sync_log_entry_away RENAME TO sync_log_entry")
        await pilot.press("ctrl+o")  # the same dialog reads again, now with its log
        await settle(pilot)
        assert "entries" in str(app.screen.query_one(".dialog").border_subtitle)
        assert app.is_running and len(_errors(app)) == 1
