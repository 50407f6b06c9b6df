"""How each row stands and why, on screen: the Why column, the filter by reason, and details
showing the identity keys on both sides (issue 11 item 4)."""

from __future__ import annotations

from syncview.domain import MatchedOn, ReasonKind, SyncStatus
from syncview.services import queries
from syncview.services.queries import ResourceFilter
from syncview.tui.screens.details import DetailsScreen
from syncview.tui.screens.overview import _status_choices
from syncview.tui.widgets.resource_table import ResourceTable
from tests.tui.conftest import settle, static_text, table_lines


def _choose_status(value: str) -> list[str]:
    """The keys that pick ``value`` in the status filter from "All statuses"."""
    index = [v for _, v in _status_choices()].index(value)
    return ["S", *["down"] * index, "enter"]  # S opens the list at once


async def test_the_why_column_says_how_each_row_matched_or_why_not_at_80_columns(app, demo_store):
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        header, *lines = table_lines(app)
        assert " Why " in f" {header} "
        shown = [line for line in lines if line.strip() and not line.strip().startswith("…")]
        cw = queries.get_integration(demo_store, "ConnectWise Manage")
        first = queries.resource_page(demo_store, ResourceFilter(cw.id), limit=len(shown))
        for line, row in zip(shown, first, strict=True):
            expected = {"matched": MatchedOn.NAME.label}.get(row.status.value) or \
                (ReasonKind(row.reason_kind).label if row.reason_kind else "—")
            assert f" {expected} " in f" {line} ", (line, row)


async def test_the_status_filter_narrows_to_one_reason_and_the_count_agrees(app, demo_store):
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press(*_choose_status("not_synced:no_client"))
        await settle(pilot)
        flt = app.screen.current_filter()
        assert (flt.status, flt.why) == (SyncStatus.NOT_SYNCED, ReasonKind.NO_CLIENT)
        shown = [line for line in table_lines(app)[1:] if line.strip()]
        assert shown and all(" no client " in line for line in shown)
        expected = queries.count_resources(demo_store, flt)
        assert 0 < expected < queries.count_resources(demo_store, ResourceFilter(flt.integration_id,
                                                                                  status=SyncStatus.NOT_SYNCED))
        assert app.screen.query_one(ResourceTable).total == expected
        await pilot.press(*_choose_status("matched:serial"))  # none in the demo: an empty table, not an error
        await settle(pilot)
        assert app.screen.query_one(ResourceTable).total == 0


async def test_details_show_why_and_the_keys_on_both_sides(app, demo_store):
    cw = queries.get_integration(demo_store, "ConnectWise Manage")
    row = queries.resource_page(demo_store, ResourceFilter(cw.id, status=SyncStatus.MATCHED), limit=1)[0]
    with demo_store.write() as conn:  # what a sync stores for a device with a serial and a MAC
        conn.exec_driver_sql("INSERT INTO resource_key VALUES (?, 'serial', 'SN-ITEM-1'), (?, 'mac', "
                             "'aa:bb:cc:00:00:01')", (row.id, row.id))
        conn.exec_driver_sql("INSERT INTO record_key VALUES (?, 'serial', 'SN-RECORD-9')", (row.record_id,))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press(*_choose_status("matched"))
        await settle(pilot)
        assert app.screen.query_one(ResourceTable).current_row.id == row.id
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, DetailsScreen)
        rendered = static_text(app.screen.query_one("#detail"))
        assert "matched on its " in rendered  # the demo says which key: e-mail, serial, MAC or name
        assert "Identity keys" in rendered
        serial_line = next(line for line in rendered.splitlines() if line.strip().startswith("serial"))
        assert "SN-ITEM-1" in serial_line and "SN-RECORD-9" in serial_line
        assert "aa:bb:cc:00:00:01" in rendered
        assert f"demo:{row.type.value}:{row.external_id}" in rendered  # its own cross-reference


async def test_replaced_hardware_reads_conflict_and_details_say_the_serial_differs(app, demo_store):
    """The demo's replaced machines: new hardware under an old host name, the old machine still
    linked. The Why column says conflict, and details say which stronger key disagrees."""
    rmm = queries.get_integration(demo_store, "Datto RMM")
    conflicts = queries.count_resources(demo_store, ResourceFilter(rmm.id, status=SyncStatus.NOT_SYNCED,
                                                                   why=ReasonKind.CONFLICT))
    assert conflicts > 0
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("I", "down", "enter")  # Datto RMM
        await settle(pilot)
        await pilot.press(*_choose_status("not_synced:conflict"))
        await settle(pilot)
        assert app.screen.query_one(ResourceTable).total == conflicts
        shown = [line for line in table_lines(app)[1:] if line.strip()]
        assert shown and all(" conflict " in line for line in shown)
        row = app.screen.query_one(ResourceTable).current_row
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, DetailsScreen)
        rendered = " ".join(static_text(app.screen.query_one("#detail")).split())
        assert f"same name as record '{row.name}' but serial " in rendered
        assert "(replaced hardware?)" in rendered
