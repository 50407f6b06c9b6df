"""Live screens: a change another process makes shows on an open screen without a key, and the
operator keeps their place (cursor, filter, sort, marks)."""

from __future__ import annotations

import asyncio
import time

from syncview.domain import SyncStatus
from syncview.services import actions, queries
from syncview.services.queries import ResourceFilter
from syncview.tui.app import SyncviewApp
from syncview.tui.live import LiveUpdates
from syncview.tui.widgets.resource_table import ResourceTable
from syncview.tui.widgets.tiles import TotalsTile
from tests.reliability.support import run
from tests.tui.conftest import row_names, settle, table_lines

#: The issue's bound: another process's change is on screen within this, with no key pressed.
WITHIN_S = 2.0


async def _until(pilot, check, timeout: float) -> float:
    """Let the app run (no key pressed) until ``check()`` holds; the seconds it took."""
    began = time.monotonic()
    while not check():
        if time.monotonic() - began > timeout:
            raise AssertionError(f"not on screen after {timeout} s")
        await asyncio.sleep(0.05)
        await pilot.pause()
    return time.monotonic() - began


def _row_line(app, name: str) -> str:
    return next(line for line in table_lines(app)[1:] if name in line)


async def test_another_process_excluding_a_row_shows_on_the_open_screen_keeping_cursor_filter_and_marks(
        demo_store):
    app = SyncviewApp(demo_store, operator="alice")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"ws-0", "enter")  # filter, back to the table
        await settle(pilot)
        await pilot.press("O")  # the operator's own order: names descending
        await settle(pilot)
        table = app.screen.query_one(ResourceTable)
        sort = (table.query_.sort, table.query_.descending)
        assert sort == ("name", True)
        await pilot.press("space", "down", "down")  # a mark on the first row, the cursor further down
        await settle(pilot)
        shown_before, cursor = row_names(app), table.cursor
        assert cursor > 0
        target = table.current_row
        assert target is not None
        marks_before = app.screen.triage.marks
        excluded = target.status is SyncStatus.EXCLUDED
        assert (" Excluded " in _row_line(app, target.name)) is excluded

        # Bob, in another process, excludes (or includes) the row under alice's cursor.
        bobs = "include" if excluded else "exclude"
        run("--db", demo_store.path, bobs, str(target.id), env={"SYNCVIEW_OPERATOR": "bob"}).ok()
        took = await _until(pilot, lambda: (" Excluded " in _row_line(app, target.name)) is not excluded,
                            timeout=10)

        assert took <= WITHIN_S, f"the change took {took:.1f} s to show"
        assert table.cursor == cursor and table.current_row.id == target.id
        assert app.screen.current_filter().text == "ws-0"
        assert (table.query_.sort, table.query_.descending) == sort
        assert app.screen.triage.marks == marks_before
        assert row_names(app) == shown_before


async def test_a_change_on_a_second_connection_refreshes_the_tiles_too(demo_store, store_path):
    from syncview.store import open_store

    app = SyncviewApp(demo_store, operator="alice")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        cw = app.screen.integration
        before = queries.integration_totals(demo_store, cw.id).by_status[SyncStatus.EXCLUDED]
        other = open_store(store_path)  # another connection, as a second process would have
        try:
            row = queries.resource_page(other, ResourceFilter(cw.id, status=SyncStatus.MATCHED), limit=1)[0]
            actions.exclude(other, row.id, operator="bob")
        finally:
            other.close()
        took = await _until(pilot, lambda: _excluded_on_tile(app) == before + 1, timeout=10)
        assert took <= WITHIN_S


def _excluded_on_tile(app) -> int | None:
    totals = app.screen.query_one(TotalsTile).totals
    return None if totals is None else totals.by_status[SyncStatus.EXCLUDED]


async def test_live_updates_can_be_turned_off_in_the_config(demo_store):
    from syncview.config import parse_config

    app = SyncviewApp(demo_store, parse_config("[ui]\nlive_updates = false\n"), operator="alice")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert not app.screen.query(LiveUpdates)


async def test_a_sync_run_by_another_process_shows_on_the_open_screen(store, tmp_path):
    """The scheduled sync's changes: an empty store's screen shows the integration a sync in
    another process brings, its tiles and rows, without a key."""
    config = tmp_path / "config.toml"
    config.write_text('[[integrations]]\nname = "Demo PSA"\nkind = "demo"\nresources = 300\ncreate_missing = true\n')
    config.chmod(0o600)
    app = SyncviewApp(store, operator="alice")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert app.screen.integration is None
        run("--db", store.path, "--config", config, "sync", "Demo PSA").ok()
        await _until(pilot, lambda: app.screen.integration is not None and bool(row_names(app)), timeout=10)
        assert app.screen.integration.name == "Demo PSA"
        await _until(pilot, lambda: app.screen.query_one(TotalsTile).totals is not None, timeout=10)
        totals = app.screen.query_one(TotalsTile).totals
        assert totals.total == queries.integration_totals(store, app.screen.integration.id).total > 0


# --- on PostgreSQL: LISTEN/NOTIFY, and a server that goes away -------------------------------------

def _notices(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def test_on_postgresql_another_process_shows_and_a_lost_server_is_said_and_reconnected(pg_server):
    from sqlalchemy import text

    from syncview.services.seed import seed_demo
    from syncview.store import open_store

    url = pg_server.create()
    store = open_store(url)
    try:
        seed_demo(store, 400)
        app = SyncviewApp(store, operator="alice")
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            await pilot.press("down", "down")
            await settle(pilot)
            table = app.screen.query_one(ResourceTable)
            target, cursor = table.current_row, table.cursor

            # The server drops every session (a restart, a failover): the screen says so once,
            # reconnects by itself, and says it is back.
            with store.engine.connect() as conn:
                conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                                  " WHERE datname = current_database() AND pid <> pg_backend_pid()"))
                conn.commit()
            await _until(pilot, lambda: any(n.startswith("Lost the store") for n in _notices(app)), timeout=10)
            await _until(pilot, lambda: any(n.startswith("Back on the store") for n in _notices(app)), timeout=10)
            assert sum(n.startswith("Lost the store") for n in _notices(app)) == 1

            # And it is live again: bob's change in another process shows, the cursor kept.
            excluded = target.status is SyncStatus.EXCLUDED
            run("--db", url, "include" if excluded else "exclude", str(target.id),
                env={"SYNCVIEW_OPERATOR": "bob"}).ok()
            took = await _until(pilot, lambda: (" Excluded " in _row_line(app, target.name)) is not excluded,
                                timeout=10)
            assert took <= WITHIN_S
            assert table.cursor == cursor and table.current_row.id == target.id
    finally:
        store.close()
        pg_server.drop(url)
