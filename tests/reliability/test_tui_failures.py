"""The screen under bad input: a failing action or sync is a notification, never a crash; hostile
remote names are painted inert; a secret quoted by a connector's bug is masked.

The store fills up for real (SQLite's page limit on every connection the app opens, so a write
that needs one more page fails with SQLITE_FULL through the store's own transaction); the app
must say so, write nothing, keep running, and work again once there is room.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing, contextmanager
from pathlib import Path

from syncview.config import parse_config
from syncview.domain import SyncStatus
from syncview.services import integrations, queries
from syncview.tui.app import SyncviewApp
from syncview.tui.screens.exclude import ExcludeDialog
from syncview.tui.widgets.resource_table import ResourceTable
from tests.helpers import rows, sqlite_only
from tests.reliability import leaky_connector
from tests.reliability.support import cap_store_pages, content
from tests.tui.conftest import settle, table_lines

FULL = "is full; nothing was written: free some space and retry"


@contextmanager
def full_disk(store):
    """No page more for the store: fill what room its pages have left, then cap it where it is."""
    path = str(store.path)
    with closing(sqlite3.connect(path, isolation_level=None)) as filler:
        pages = filler.execute("PRAGMA page_count").fetchone()[0]
        filler.execute(f"PRAGMA max_page_count = {pages}")
        filler.execute("PRAGMA synchronous = OFF")
        for size in (2000, 400, 60, 1):  # big rows first, then ever smaller ones into what is left
            try:
                while True:
                    filler.execute("INSERT INTO sync_log_entry (integration_id, time, level, message) "
                                   "VALUES (1, '2026-01-01 00:00:00', 'info', ?)", ("." * size,))
            except sqlite3.OperationalError as error:
                assert "full" in str(error)

    lift = cap_store_pages(Path(path))
    store.engine.dispose()  # pooled connections were opened before the cap
    try:
        yield
    finally:
        lift()
        store.engine.dispose()


def _notifications(app) -> list[str]:
    return [n.message for n in app._notifications]


#: The integration the screen opens on.
PSA = "ConnectWise Manage"


async def _select(pilot, name: str) -> int:
    """Filter down to ``name``, cursor on it; returns the resource's id."""
    await pilot.press("slash", *name, "enter")
    await settle(pilot)
    row = pilot.app.screen.query_one(ResourceTable).current_row
    assert row is not None and row.name == name
    return row.id


@sqlite_only  # the store's own file fills up; on PostgreSQL the disk is the server's
async def test_an_action_on_a_full_disk_is_a_notification_and_the_app_goes_on(demo_store):
    app = SyncviewApp(demo_store, operator="tester")
    name = "INITEC-WS-008"
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        resource_id = await _select(pilot, name)
        with full_disk(demo_store):
            before = content(Path(demo_store.path))
            await pilot.press("x")
            await settle(pilot)
            assert isinstance(app.screen, ExcludeDialog)
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert any(FULL in message for message in _notifications(app)), _notifications(app)
            assert content(Path(demo_store.path)) == before  # nothing of the action was written
            assert app.is_running and " Matched " in table_lines(app)[1]
        # Room again: the same keys work, in the same session.
        await pilot.press("x")
        await settle(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert " Excluded " in table_lines(app)[1]
    assert queries.get_resource(demo_store, resource_id).status is SyncStatus.EXCLUDED


@sqlite_only  # the store's own file fills up; on PostgreSQL the disk is the server's
async def test_a_sync_that_fills_the_disk_is_a_notification_and_the_app_goes_on(demo_store):
    app = SyncviewApp(demo_store, operator="tester")
    with closing(sqlite3.connect(demo_store.path)) as conn, conn:
        conn.execute("DELETE FROM sync_log_entry WHERE resource_id IS NOT NULL")
        conn.execute("DELETE FROM resource WHERE id NOT IN (SELECT resource_id FROM audit_event "
                     "WHERE resource_id IS NOT NULL)")  # a sync has everything to bring back
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        with full_disk(demo_store):
            resources = rows(demo_store, "SELECT count(*) FROM resource")
            await pilot.press("s")
            await settle(pilot)
            assert any(FULL in message for message in _notifications(app)), _notifications(app)
            assert rows(demo_store, "SELECT count(*) FROM resource") == resources
            assert app.is_running
        await pilot.press("s")
        await settle(pilot)
        assert rows(demo_store, "SELECT count(*) FROM resource")[0][0] > resources[0][0]


async def test_hostile_remote_names_are_painted_inert(demo_store):
    [(evil,), (huge,)] = rows(demo_store, "SELECT id FROM resource WHERE integration_id = ? ORDER BY id LIMIT 2",
                              queries.get_integration(demo_store, PSA).id)
    with demo_store.write() as conn:
        conn.exec_driver_sql("UPDATE resource SET name = ?, name_norm = 'evil' WHERE id = ?",
                             ("EVIL-\x1b]52;c;cm0gLXJmIH4=\x07\x1b[2J\u202eEXE.txt", evil))
        conn.exec_driver_sql("UPDATE resource SET name = ?, name_norm = 'huge' WHERE id = ?",
                             ("HUGE-" + "X" * 100_000, huge))
    app = SyncviewApp(demo_store, operator="tester")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"evil", "enter")
        await settle(pilot)
        line = table_lines(app)[1]
        assert line.startswith(r"EVIL-\x1b]52;c;cm0gLXJmIH4="), line  # escapes shown, not obeyed
        assert not any(ch in line for ch in "\x1b\x07\u202e")
        await pilot.press("slash", *["backspace"] * 4, *"huge", "enter")
        await settle(pilot)
        line = table_lines(app)[1]
        assert line.startswith("HUGE-XXX") and len(line) <= 120
        assert app.is_running


async def test_a_connector_bug_quoting_its_secret_is_a_masked_notification(store, monkeypatch):
    leaky_connector.register(monkeypatch)
    monkeypatch.setenv("LEAKY_TOKEN", "leaky-T0ken-value-123")
    config = parse_config('[[integrations]]\nname = "Leaky"\nkind = "leaky"\ntoken = "env:LEAKY_TOKEN"\n')
    integrations.register(store, config)
    app = SyncviewApp(store, config, operator="tester")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        shown = _notifications(app)
        assert any("could not parse the answer to Authorization: Bearer ***" in m for m in shown), shown
        assert not any("leaky-T0ken-value-123" in m for m in shown)
        assert app.is_running
