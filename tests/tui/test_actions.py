"""Re-match, exclude, include and undo from the screen: keys in, store and screen checked."""

from __future__ import annotations

from syncview.domain import SyncStatus
from syncview.services import actions, queries
from syncview.tui.screens.exclude import ExcludeDialog
from syncview.tui.screens.rematch import RematchDialog
from syncview.tui.widgets.resource_table import ResourceTable
from syncview.tui.widgets.tiles import TotalsTile
from tests.helpers import audit, record_disabled, rows
from tests.tui.conftest import settle, table_lines


def _resource(store, name: str, integration: str = "ConnectWise Manage") -> queries.ResourceRow:
    integration_id = queries.get_integration(store, integration).id
    (resource_id,) = rows(store, "SELECT id FROM resource WHERE integration_id = ? AND name = ?",
                          integration_id, name)[0]
    return queries.get_resource(store, resource_id)


def _record_id(store, name: str) -> int:
    return rows(store, "SELECT id FROM record WHERE name = ? ORDER BY id", name)[0][0]


async def _select(pilot, name: str) -> None:
    """Filter the table down to ``name`` and put the cursor on it, as an operator would."""
    await pilot.press("slash", *name, "enter")
    await settle(pilot)
    table = pilot.app.screen.query_one(ResourceTable)
    assert table.current_row is not None and table.current_row.name == name


def _status_counts(app) -> dict[SyncStatus, int]:
    return dict(app.screen.query_one(TotalsTile).totals.by_status)


async def test_rematch_to_another_record_with_disable_previous(app, demo_store):
    resource = _resource(demo_store, "GLOBEX-LT-008")
    previous, target = resource.record_id, _record_id(demo_store, "GLOBEX-LT-002")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await _select(pilot, "GLOBEX-LT-008")
        await pilot.press("m")
        await settle(pilot)
        assert isinstance(app.screen, RematchDialog)
        await pilot.press(*"lt-002")
        await settle(pilot)
        await pilot.press("tab", "tab", "space")  # search -> candidates -> "Disable previous record"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert not isinstance(app.screen, RematchDialog)
        after = queries.get_resource(demo_store, resource.id)
        assert (after.status, after.record_id) == (SyncStatus.MATCHED, target)
        assert record_disabled(demo_store, previous)
        assert audit(demo_store, resource.id)[-1]["action"] == "rematch"
        assert "GLOBEX-LT-002" in table_lines(app)[1]


async def test_rematch_of_a_not_synced_row_moves_it_to_matched_in_the_tiles(app, demo_store):
    resource = _resource(demo_store, "ACME-LT-023")
    assert resource.status is SyncStatus.NOT_SYNCED
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        before = _status_counts(app)
        await _select(pilot, "ACME-LT-023")
        await pilot.press("enter", "m")  # the row menu, then Re-match
        await settle(pilot)
        await pilot.press("enter")  # the best-ranked candidate
        await settle(pilot)
        after = queries.get_resource(demo_store, resource.id)
        assert after.status is SyncStatus.MATCHED and after.record_name == "ACME-LT-023"
        counts = _status_counts(app)
        assert counts[SyncStatus.MATCHED] == before[SyncStatus.MATCHED] + 1
        assert counts[SyncStatus.NOT_SYNCED] == before[SyncStatus.NOT_SYNCED] - 1
        assert " Matched " in table_lines(app)[1]


async def test_exclude_with_disable_then_include_then_undo_twice(app, demo_store):
    resource = _resource(demo_store, "INITEC-WS-008")
    record = resource.record_id
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        before = _status_counts(app)
        await _select(pilot, "INITEC-WS-008")
        await pilot.press("x")
        await settle(pilot)
        assert isinstance(app.screen, ExcludeDialog)
        await pilot.press("shift+tab", "shift+tab", "space", "ctrl+s")  # from Cancel: "Disable record" on, Exclude
        await settle(pilot)
        stored = queries.get_resource(demo_store, resource.id)
        assert stored.status is SyncStatus.EXCLUDED and stored.record_id is None
        assert record_disabled(demo_store, record)
        assert _status_counts(app)[SyncStatus.EXCLUDED] == before[SyncStatus.EXCLUDED] + 1
        assert " Excluded " in table_lines(app)[1]

        await pilot.press("i")
        await settle(pilot)
        assert queries.get_resource(demo_store, resource.id).status is SyncStatus.NOT_SYNCED

        await pilot.press("u")  # undo the include: a confirmation says what will change
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert queries.get_resource(demo_store, resource.id).status is SyncStatus.EXCLUDED
        await pilot.press("u", "enter")  # undo the exclude: linked again, record enabled again
        await settle(pilot)
        restored = queries.get_resource(demo_store, resource.id)
        assert (restored.status, restored.record_id) == (SyncStatus.MATCHED, record)
        assert not record_disabled(demo_store, record)
        assert _status_counts(app) == before
        assert [e["action"] for e in audit(demo_store, resource.id)] == ["exclude", "include", "undo", "undo"]


async def test_cancel_leaves_the_store_alone(app, demo_store):
    resource = _resource(demo_store, "INITEC-WS-008")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await _select(pilot, "INITEC-WS-008")
        await pilot.press("x", "escape", "m")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
    assert queries.get_resource(demo_store, resource.id) == resource
    assert audit(demo_store, resource.id) == []


async def test_an_action_on_a_row_changed_elsewhere_is_refused_with_who_changed_it(app, demo_store):
    resource = _resource(demo_store, "INITEC-WS-008")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await _select(pilot, "INITEC-WS-008")
        actions.exclude(demo_store, resource.id, operator="akumar")  # another operator, another process
        await pilot.press("x")  # the screen still shows the row as Matched
        await settle(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
        messages = [n.message for n in app._notifications]
        assert any("changed by akumar" in m for m in messages), messages
        assert " Excluded " in table_lines(app)[1]  # reloaded to show what akumar did
    assert [e["operator"] for e in audit(demo_store, resource.id)] == ["akumar"]
