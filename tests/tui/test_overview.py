"""The Sync Overview, driven with the keyboard as an operator would, checked on screen and in the store."""

from __future__ import annotations

import json

import pytest

from syncview.domain import ResourceType, SyncStatus
from syncview.services import queries
from syncview.services.queries import ResourceFilter
from syncview.tui.widgets.resource_table import ResourceTable
from syncview.tui.widgets.tiles import StatusTile, TotalsTile, number
from tests.tui.conftest import row_names, settle, static_text, table_lines


def _integration(store, name="ConnectWise Manage"):
    return queries.get_integration(store, name)


async def test_opens_on_first_integration_with_tiles_counting_the_whole_integration(app, demo_store):
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        cw = _integration(demo_store)
        totals = queries.integration_totals(demo_store, cw.id)
        screen = app.screen
        assert screen.integration.id == cw.id
        assert screen.query_one(TotalsTile).totals == totals
        status = static_text(screen.query_one(StatusTile))
        assert number(totals.by_status[SyncStatus.MATCHED]) in status
        assert f"Removed remotely {number(totals.removed)}" in " ".join(status.split())
        # The table lists the removed-remotely resources too (marked so on their row), and counts
        # them as the tiles do: the tile's total, the removed ones apart.
        assert screen.query_one(ResourceTable).total == totals.total + totals.removed
        assert screen.query_one("#sync-status").border_subtitle == \
            f"{number(totals.total)} resources · {number(totals.removed)} removed remotely"
        lines = table_lines(app)
        assert lines[0].startswith("Name ▲")
        first_page = queries.resource_page(demo_store, ResourceFilter(cw.id), limit=5)
        assert row_names(app)[:5] == [r.name for r in first_page]


async def test_typing_a_filter_narrows_the_rows_as_one_types(app, demo_store):
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"ws-0")
        await settle(pilot)
        names = row_names(app)
        assert names and all("ws-0" in name.lower() for name in names)
        cw = _integration(demo_store)
        flt = ResourceFilter(cw.id, text="ws-0")
        removed = queries.count_removed(demo_store, flt)
        expected = queries.count_resources(demo_store, flt) - removed
        totals = queries.integration_totals(demo_store, cw.id)
        apart = f" · {number(removed)} removed remotely" if removed else ""
        assert app.screen.query_one("#sync-status").border_subtitle == \
            f"{number(expected)} of {number(totals.total)}{apart}"
        await pilot.press("escape")  # back to the table
        assert isinstance(app.focused, ResourceTable)
        await pilot.press("escape")  # clears the filter
        await settle(pilot)
        assert app.screen.query_one("#sync-status").border_subtitle == \
            f"{number(totals.total)} resources · {number(totals.removed)} removed remotely"


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_one_definition_of_each_count_on_tiles_table_pickers_and_status(app, demo_store, size):
    """Issue 16 item 3: 'resources' are the live ones everywhere (tiles, the table's count line,
    the client picker, ``status``); the removed-remotely ones the table also lists are said apart."""
    from textual.widgets import Select

    from syncview.cli import cli
    from click.testing import CliRunner

    cw = _integration(demo_store)
    totals = queries.integration_totals(demo_store, cw.id)
    assert totals.removed > 0  # the demo has some, or this would not tell the definitions apart
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        box = app.screen.query_one("#sync-status")
        assert box.border_subtitle == f"{number(totals.total)} resources · {number(totals.removed)} removed remotely"
        # Each client in the picker: its live resources, which the table then says for it.
        client = next(c for c in queries.integration_clients(demo_store, cw.id) if c.removed)
        picker = app.screen.query_one("#client", Select)
        assert f"({number(client.resources)})" in next(str(p) for p, v in picker._options if v == client.id)
        picker.value = client.id
        await settle(pilot)
        assert box.border_subtitle == f"{number(client.resources)} resources · {number(client.removed)} removed remotely"
        picker.value = "all"
        await settle(pilot)
        # A status: the tile's number for it, of the tile's total.
        await pilot.press("S", "down", "enter")  # Matched
        await settle(pilot)
        matched = ResourceFilter(cw.id, status=SyncStatus.MATCHED)
        removed = queries.count_removed(demo_store, matched)
        apart = f" · {number(removed)} removed remotely" if removed else ""
        assert box.border_subtitle == \
            f"{number(totals.by_status[SyncStatus.MATCHED])} of {number(totals.total)}{apart}"
    status = json.loads(CliRunner().invoke(cli, ["--db", str(demo_store.path), "status", "--json"]).stdout)
    item = next(i for i in status["integrations"] if i["id"] == cw.id)
    assert (item["total"], item["removed"]) == (totals.total, totals.removed)
    listed = json.loads(CliRunner().invoke(cli, ["--db", str(demo_store.path), "resources", "--integration",
                                                 cw.name, "--limit", "1", "--json"]).stdout)
    assert (listed["total"] - listed["removed"], listed["removed"]) == (totals.total, totals.removed)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_long_names_take_the_room_other_columns_do_not_need(store, tmp_path, size):
    """Issue 16 item 5: at 80 columns 'Acme Engineering Corp -…' was cut while Local record kept
    25 cells of '—'. The name takes what the other columns leave in view (their labels whole)."""
    from syncview.tui.app import SyncviewApp
    from tests.cli.test_cli import LONG
    from tests.tui.test_hostile_text import sync_names

    sync_names(store, tmp_path, LONG)
    app = SyncviewApp(store, operator="tester")
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        lines = table_lines(app)
        for name in LONG:
            assert any(line.startswith(name) for line in lines), (name, lines)
        assert "Local record" in lines[0]


async def test_type_and_status_pickers_filter_the_table(app, demo_store):
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("t", "down", "down", "down", "enter")  # All types -> Client, Site, Device
        await settle(pilot)
        await pilot.press("S", "down", "down", "enter")  # All statuses -> Matched, Not Synced
        await settle(pilot)
        flt = app.screen.current_filter()
        assert (flt.type, flt.status) == (ResourceType.DEVICE, SyncStatus.NOT_SYNCED)
        lines = table_lines(app)[1:]
        shown = [line for line in lines if line.strip()]
        assert shown and all(" Device " in line and " Not Synced " in line for line in shown)
        expected = queries.count_resources(demo_store, flt)
        assert app.screen.query_one(ResourceTable).total == expected


async def test_choosing_another_integration_reloads_tiles_and_clients(app, demo_store):
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("I", "down", "enter")
        await settle(pilot)
        rmm = _integration(demo_store, "Datto RMM")
        assert app.screen.integration.id == rmm.id
        assert app.screen.query_one(TotalsTile).totals == queries.integration_totals(demo_store, rmm.id)
        clients = app.screen.query_one("#client")
        offered = [value for _, value in clients._options][1:]
        assert offered == [c.id for c in queries.integration_clients(demo_store, rmm.id)]


async def test_client_picker_searches_as_one_types_and_filters_the_table(app, demo_store):
    cw = _integration(demo_store)
    client = queries.integration_clients(demo_store, cw.id)[2]
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("c", *client.name[:6].lower(), "enter")
        await settle(pilot)
        flt = app.screen.current_filter()
        assert flt.client_id == client.id
        expected = queries.resource_page(demo_store, flt, limit=3)
        assert row_names(app)[:3] == [r.name for r in expected]


async def test_sorting_by_a_column_and_reversing_it(app, demo_store):
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("O")  # reverse the name order
        await settle(pilot)
        cw = _integration(demo_store)
        last = queries.resource_page(demo_store, ResourceFilter(cw.id), limit=3, descending=True)
        assert row_names(app)[:3] == [r.name for r in last]
        assert table_lines(app)[0].startswith("Name ▼")


async def test_moving_through_a_large_result_with_page_and_end_keys(app, demo_store):
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(ResourceTable)
        await pilot.press("G")
        await settle(pilot)
        assert table.cursor == table.total - 1
        cw = _integration(demo_store)
        last = queries.resource_page(demo_store, ResourceFilter(cw.id), offset=table.total - 1, limit=1)[0]
        assert table.current_row.id == last.id
        assert row_names(app)[-1] == last.name
        await pilot.press("g", "pagedown", "j", "k", "j")
        await settle(pilot)
        assert table.cursor == table._rows_in_view() + 1


async def test_keys_typed_faster_than_the_screen_repaints_land_in_the_filter(app, demo_store):
    """'/globex' pasted or typed at full speed: every letter after '/' goes to the filter box,
    none to the screen's bindings (l would open the logs, x would exclude)."""
    from textual import events
    from textual.widgets import Input

    from syncview.tui.screens.overview import OverviewScreen

    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        for key, character in [("slash", "/"), *((c, c) for c in "globex")]:
            app.post_message(events.Key(key, character))
        await settle(pilot)
        assert isinstance(app.screen, OverviewScreen)
        assert app.screen.query_one("#filter", Input).value == "globex"
        assert row_names(app) and all("globex" in name.lower() for name in row_names(app))
        await pilot.press("slash")  # in the box, "/" is text like any other
        assert app.screen.query_one("#filter", Input).value == "globex/"


async def test_enter_then_a_key_typed_in_one_breath_acts_on_the_table(app, demo_store):
    """'/globex⏎*' at full speed: enter leaves the filter before '*' arrives, so '*' marks the
    matches instead of being typed into the filter."""
    from textual import events
    from textual.widgets import Input

    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        keys = [("slash", "/"), *((c, c) for c in "globex"), ("enter", "\r"), ("asterisk", "*")]
        for key, character in keys:
            app.post_message(events.Key(key, character))
        await settle(pilot)
        assert app.screen.query_one("#filter", Input).value == "globex"
        assert app.screen.focused is app.screen.query_one(ResourceTable)
        assert "marked" in str(app.screen.query_one("#sync-status").border_subtitle)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_picker_keys_typed_in_one_burst_do_what_they_do_typed_slowly(app, demo_store, size):
    """Keys posted together, as a terminal delivers a burst: before the fix the letter after
    'c' was handed to the table before the client list opened, and lost ('ct⏎' chose All
    clients); '↓⏎' right after 't' must move in the type list, not in the table."""
    from textual import events
    from textual.widgets import Select

    def burst(*keys: str) -> None:
        for key in keys:
            app.post_message(events.Key(key, key if len(key) == 1 else None))

    cw = _integration(demo_store)
    clients = queries.integration_clients(demo_store, cw.id)
    # 't' in the client list jumps to the first client whose name has a 't' earliest: as typed slowly
    wanted = min((c for c in clients if "t" in c.name.lower()), key=lambda c: c.name.lower().index("t"))
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        burst("c", "t", "enter")
        await settle(pilot)
        assert app.screen.query_one("#client", Select).value == wanted.id
        assert app.screen.query_one("#type", Select).value == "all"  # 't' did not open the type list
        types = app.screen.query_one("#type", Select)
        burst("t", "down", "down", "enter")
        await settle(pilot)
        assert types.value == types._options[2][1] and not types.expanded
        burst("S", "escape", "c", "escape")  # the lists open and close in turn, none left open
        await settle(pilot)
        assert not any(p.expanded for p in app.screen.query(Select))
        burst("slash", "c", "t", "S", "I")  # in the filter box the picker keys are letters
        await settle(pilot)
        assert app.screen.query_one("#filter").value == "ctSI"
        assert not any(p.expanded for p in app.screen.query(Select))
        burst("escape")
        app.screen.query_one("#filter").value = ""
        await settle(pilot)
        assert {r.client_id for r in queries.resource_page(demo_store, app.screen.current_filter(), limit=50)} \
            == {wanted.id}


async def test_no_integration_is_not_a_choice_in_the_integration_picker(app, demo_store):
    from textual.widgets import Select

    first, second = queries.list_integrations(demo_store)
    for size in ((80, 24), (120, 40)):
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            picker = app.screen.query_one("#integration", Select)
            assert [value for _prompt, value in picker._options] == [first.id, second.id]
            # Up from the first entry, then enter: still an integration, and `s` would sync it.
            await pilot.press("I", "up", "up", "enter")
            await settle(pilot)
            assert picker.value == first.id and app.screen.integration.id == first.id
        app = type(app)(demo_store, operator="tester")


async def test_at_80_columns_no_column_comes_or_goes_while_scrolling(app, demo_store):
    """Whether a column gives its room up is decided by the whole result, not the rows in view:
    paging down, the header names the same columns (the demo's first pages are all Not Synced,
    and some all devices, while the result holds every type and status; the flexible columns
    still share their room by the widest cell in view)."""
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(ResourceTable)
        table.focus()
        headers = []
        for _ in range(12):
            headers.append(table_lines(app)[0])
            await pilot.press("pagedown")
            await settle(pilot)
        assert len({" ".join(header.split()) for header in headers}) == 1, headers
        assert "Type" in headers[0] and "Status" in headers[0] and "·" not in headers[0], headers[0]
        # A wider name further down widens its column; going back up does not narrow it again.
        widest = table_lines(app)[0]
        for _ in range(12):
            await pilot.press("pageup")
            await settle(pilot)
            assert table_lines(app)[0] == widest
        # One type chosen: the whole result says it, so its column yields on every page.
        await pilot.press("t", "down", "enter")
        await settle(pilot)
        flt = table.query_.filter
        assert flt.type is not None
        headers = []
        for _ in range(6):
            headers.append(" ".join(table_lines(app)[0].split()))
            await pilot.press("pagedown")
            await settle(pilot)
        assert len(set(headers)) == 1, headers
        assert f"· {flt.type.label}" in headers[0] and "Type" not in headers[0], headers[0]


async def test_picker_keys_open_the_list_at_once_and_the_arrows_stop_at_its_ends(app, demo_store):
    from textual.widgets import Select

    rmm = queries.get_integration(demo_store, "Datto RMM")
    for size in ((80, 24), (120, 40)):
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            status = app.screen.query_one("#status-filter", Select)
            await pilot.press("S")
            assert status.expanded and app.screen.focused is not app.screen.table
            # Down past the last entry stays on it (the last reason), it does not come round to All.
            choices = [value for _prompt, value in status._options]
            await pilot.press(*["down"] * (len(choices) + 2), "enter")
            await settle(pilot)
            assert status.value == choices[-1] != SyncStatus.EXCLUDED.value and not status.expanded
            # The filter row is labelled: the words where there is room, the keys at 80 columns.
            labels = [label.content for label in app.screen.query("#filters > .label") if label.display]
            assert labels == (["c", "/", "t", "S"] if size == (80, 24) else ["Client", "Name", "Type", "Status"])
            # Types the integration has no resources of are not offered.
            await pilot.press("I", "down", "enter")
            await settle(pilot)
            assert app.screen.integration.id == rmm.id
            offered = [prompt for prompt, _value in app.screen.query_one("#type", Select)._options]
            totals = queries.integration_totals(demo_store, rmm.id)
            assert offered == ["All"] + [t.label for t in ResourceType if totals.by_type[t]]
            assert len(offered) < len(ResourceType) + 1
        app = type(app)(demo_store, operator="tester")


async def test_the_footer_shows_whole_keys_in_order_with_help_and_keeps_rebound_ones(demo_store):
    from textual.widgets._footer import FooterKey

    from syncview.config import Config
    from syncview.tui.app import SyncviewApp
    from syncview.tui.widgets.key_footer import KeyFooter

    def keys(app) -> list[tuple[str, str]]:
        return [(k.key_display, k.description) for k in app.screen.query_one(KeyFooter).query(FooterKey)]

    for keymap in ({}, {"overview.sync": "ctrl+y", "overview.rematch": "M"}):
        app = SyncviewApp(demo_store, Config(path=None, keymap=keymap), operator="tester")
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            narrow = keys(app)
            footer = app.screen.query_one(KeyFooter)
            assert sum(len(k) + len(d) + 2 for k, d in narrow) <= footer.size.width
            descriptions = [d for _k, d in narrow]
            assert descriptions[:6] == ["Actions", "Filter", "Re-match", "Exclude", "Undo", "Sync now"]
            assert descriptions[-2:] == ["Help", "palette"]
            if keymap:
                assert ("^y", "Sync now") in narrow and ("M", "Re-match") in narrow
            await pilot.resize_terminal(120, 40)
            await settle(pilot)
            wide = [d for _k, d in keys(app)]
            assert wide[:7] == descriptions[:6] + ["Logs"] and "Quit" in wide


async def test_at_80_columns_a_column_saying_the_same_on_every_row_gives_the_name_its_room(app, demo_store):
    from syncview.tui.widgets.resource_table import layout_columns

    for size in ((80, 24), (120, 40)):
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            await pilot.press("S", "down", "enter")  # Matched: the status is the same on every row
            await settle(pilot)
            header = table_lines(app)[0]
            table = app.screen.query_one(ResourceTable)
            width = table.scrollable_content_region.width
            if size == (80, 24):
                assert header.startswith("Name ▲ · ") and "· Matched" in header and "Status" not in header, header
                # The name column took the room the status column gave up.
                assert header.index("Local record") > layout_columns(width)[0][1] + 1
            else:
                assert "Status" in header and "·" not in header
        app = type(app)(demo_store, operator="tester")


async def test_narrowing_the_terminal_lets_a_column_every_row_agrees_on_give_its_room(app):
    """Counted on a wide screen (where every column shows), then narrowed to 80 columns: which
    columns yield is asked anew, and the chosen type moves into the header."""
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("t", "down", "enter")
        await settle(pilot)
        table = app.screen.query_one(ResourceTable)
        label = table.query_.filter.type.label
        assert "Type" in table_lines(app)[0]
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        header = table_lines(app)[0]
        assert f"· {label}" in header and "Type" not in header, header
