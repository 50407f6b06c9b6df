"""`s` Sync now from the screen: the run lands in the store, and the tiles, rows and Last Synced follow."""

from __future__ import annotations

import threading

from syncview.connectors.demo import DemoConnector
from syncview.services import queries
from syncview.tui.widgets.tiles import TotalsTile
from tests.helpers import rows
from tests.loopback import serve  # noqa: F401  (the fixture)
from tests.tui.conftest import row_names, settle, static_text

PSA = "ConnectWise Manage"


def _notifications(app) -> list[str]:
    return [n.message for n in app._notifications]


async def test_sync_now_brings_back_resources_and_updates_tiles_and_last_synced(app, demo_store):
    integration_id = queries.get_integration(demo_store, PSA).id
    total = queries.integration_totals(demo_store, integration_id).total
    runs_before = rows(demo_store, "SELECT count(*) FROM syncrun WHERE integration_id = ?", integration_id)[0][0]
    # Lose ten resources, as if the store had been restored from an old backup: the sync brings them back.
    lost = [r for (r,) in rows(demo_store, "SELECT id FROM resource WHERE integration_id = ? AND id NOT IN "
                               "(SELECT resource_id FROM audit_event WHERE resource_id IS NOT NULL) "
                               "ORDER BY id LIMIT 10", integration_id)]
    with demo_store.write() as conn:
        marks = ",".join("?" * len(lost))
        conn.exec_driver_sql(f"DELETE FROM sync_log_entry WHERE resource_id IN ({marks})", tuple(lost))
        conn.exec_driver_sql(f"DELETE FROM resource WHERE id IN ({marks})", tuple(lost))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        tile = app.screen.query_one(TotalsTile)
        assert tile.totals.total == total - 10

        await pilot.press("s")
        await settle(pilot)

        assert tile.totals.total == total
        assert rows(demo_store, "SELECT count(*), max(outcome) FROM syncrun WHERE integration_id = ? AND id > ?",
                    integration_id, runs_before)[0] == (1, "success")
        assert "✓ Synced just now" in static_text(app.screen.query_one("#last-synced"))
        assert any(message.startswith(f"{PSA}: success") and "10 new" in message for message in _notifications(app))


async def test_s_again_stops_the_sync_after_its_page_and_keeps_what_it_saved(app, demo_store, monkeypatch):
    # A product that answers the first page, then waits until the test lets it go on.
    go_on = threading.Event()
    monkeypatch.setattr(DemoConnector, "page_size", 50)
    fetch = DemoConnector.fetch

    def held_fetch(self, since=None):
        for number, page in enumerate(fetch(self, since)):
            if number == 1:
                go_on.wait(timeout=10)
            yield page

    monkeypatch.setattr(DemoConnector, "fetch", held_fetch)
    integration_id = queries.get_integration(demo_store, PSA).id
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await pilot.pause(0.2)
        assert "Syncing: 50 fetched" in static_text(app.screen.query_one("#last-synced"))
        await pilot.press("s")
        go_on.set()
        await settle(pilot)

        outcome, message = rows(demo_store, "SELECT outcome, message FROM syncrun WHERE integration_id = ? "
                                "ORDER BY id DESC LIMIT 1", integration_id)[0]
        assert outcome == "partial"
        assert message == f"{PSA}: cancelled by the operator (stopped after 2 pages; the next run completes it)"
        assert any("was stopped" in m for m in _notifications(app))
        assert "Syncing" not in static_text(app.screen.query_one("#last-synced"))


async def test_a_store_without_a_syncable_integration_says_so(store, tmp_path):
    from syncview.services.seed import seed_demo
    from syncview.tui.app import SyncviewApp

    seed_demo(store, 200)
    with store.write() as conn:  # the store no longer knows how its demo was made
        conn.exec_driver_sql("DELETE FROM meta")
    app = SyncviewApp(store, operator="tester")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        assert any('no integration named "ConnectWise Manage"' in m for m in _notifications(app))


async def test_a_sync_or_a_refresh_keeps_the_operators_filter_client_and_marks(app, demo_store):
    from textual.widgets import Input

    from syncview.tui.widgets.resource_table import ResourceTable

    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"acme", "enter", "space")
        await settle(pilot)
        for key in ("r", "s"):
            await pilot.press(key)
            await settle(pilot)
            assert app.screen.query_one("#filter", Input).value == "acme", key
            assert app.screen.query_one(ResourceTable).total > 0
            assert row_names(app) and all("acme" in row.lower() for row in row_names(app)), key
            assert "1 marked" in str(app.screen.query_one("#sync-status").border_subtitle), key



async def test_a_failed_sync_now_says_failed_first_and_when_the_last_success_was(app, demo_store, monkeypatch):
    from syncview.errors import ConnectorError

    def failing_fetch(self, since=None):
        raise ConnectorError("ConnectWise Manage: connection refused")
        yield  # a generator, as the connector's fetch is

    monkeypatch.setattr(DemoConnector, "fetch", failing_fetch)
    for size in ((80, 24), (120, 40)):
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            await pilot.press("s")
            await settle(pilot)
            line = static_text(app.screen.query_one("#last-synced")).strip()
            assert line.startswith("✗ Failed just now"), line
            assert "Last synced" not in line and "Synced" not in line
            second = static_text(app.screen.query_one("#last-success")).strip()
            assert second.startswith("Last success "), second
            assert any(m.startswith(f"{PSA}: failed") for m in _notifications(app)), _notifications(app)
        app = type(app)(demo_store, operator="tester")


async def test_sync_now_marks_what_was_deleted_in_the_product_since_the_last_sync(store, serve, monkeypatch):
    """An incremental Sync now (ConnectWise on a loopback fake) still finds a deleted configuration."""
    from syncview.config import parse_config
    from syncview.services.sync import sync_integration
    from syncview.tui.app import SyncviewApp
    from tests.connectors.fakes.connectwise import FakeConnectWise

    fake = FakeConnectWise(companies=2, out_of_scope=True)
    monkeypatch.setenv("CW_PRIVATE", fake.private_key)
    config = parse_config(f"""
        [[integrations]]
        name = "CW"
        kind = "connectwise"
        site = "{serve(fake)}"
        company_id = "{fake.company_id}"
        public_key = "{fake.public_key}"
        private_key = "env:CW_PRIVATE"
        client_id = "{fake.client_id}"
    """)
    assert sync_integration(store, config.integration("CW")).full
    gone = fake.entities["configurations"].pop(0)
    app = SyncviewApp(store, config, operator="tester")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)

        assert rows(store, "SELECT external_id FROM resource WHERE deleted_remotely = 1") == [(str(gone["id"]),)]
        assert rows(store, "SELECT outcome, removed FROM syncrun ORDER BY id DESC LIMIT 1") == [("success", 1)]
        assert any(m.startswith("CW: success") and "1 newly removed remotely" in m and "(changes only)" in m
                   for m in _notifications(app))
