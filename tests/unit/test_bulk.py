"""Marks, bulk exclude/include, undo and redo of whole batches (bulk re-match: test_proposals.py)."""

from __future__ import annotations

import json

import pytest

from syncview.domain import ResourceType, SyncStatus
from syncview.errors import ActionError, StaleResourceError
from syncview.services import actions, bulk, queries
from syncview.services.bulk import Marks
from syncview.services.queries import ResourceFilter
from tests.helpers import rows


def _cw(store) -> int:
    return queries.get_integration(store, "ConnectWise Manage").id


def _page(store, **filters) -> list[queries.ResourceRow]:
    return queries.resource_page(store, ResourceFilter(_cw(store), **filters), limit=500)


def _batches(store) -> list[tuple]:
    return rows(store, "SELECT batch, action, count(*) FROM audit_event WHERE operator = 'tester' "
                       "GROUP BY batch, action ORDER BY min(id)")


def test_marks_toggle_one_by_one_and_against_a_filter(demo_store):
    devices = _page(demo_store, type=ResourceType.DEVICE)
    contact = _page(demo_store, type=ResourceType.CONTACT)[0]
    flt = ResourceFilter(_cw(demo_store), type=ResourceType.DEVICE)
    marks = Marks().with_filter(flt)
    assert all(marks.has(row) for row in devices) and not marks.has(contact)
    marks = marks.toggle(devices[0]).toggle(contact)  # unmark one device, mark one contact
    assert not marks.has(devices[0]) and marks.has(contact)
    assert marks.removed == {devices[0].id} and marks.added == {contact.id}
    expected = queries.count_resources(demo_store, flt)
    assert bulk.count(demo_store, marks) == expected - 1 + 1
    assert [r.id for r in bulk.iter_marked(demo_store, marks)] == sorted(
        {r.id for r in queries.iter_resources(demo_store, flt)} - {devices[0].id} | {contact.id})
    marks = marks.toggle(devices[0]).toggle(contact)
    assert marks == Marks((flt,))
    assert not Marks() and bulk.count(demo_store, Marks()) == 0


def test_filter_match_in_python_agrees_with_sql(demo_store):
    flt = ResourceFilter(_cw(demo_store), text="ws-0", status=SyncStatus.MATCHED)
    everything = _page(demo_store)
    assert {r.id for r in everything if bulk.matches(flt, r)} == {
        r.id for r in queries.resource_page(demo_store, flt, limit=500)} & {r.id for r in everything}


def test_bulk_exclude_with_disable_is_one_batch_and_one_undo(demo_store):
    flt = ResourceFilter(_cw(demo_store), status=SyncStatus.MATCHED, text="globex")
    targets = queries.resource_page(demo_store, flt, limit=1000)
    records = [r.record_id for r in targets]
    assert len(targets) > 10
    result = bulk.exclude(demo_store, Marks((flt,)), disable_records=True, expected_count=len(targets))
    assert result.changed == len(targets) and result.skipped == 0
    assert f"excluded {len(targets)} resources and disabled {len(targets)} records" in result.message
    after = {r.id: r for r in queries.iter_resources(demo_store, ResourceFilter(_cw(demo_store), text="globex"))}
    assert all(after[r.id].status is SyncStatus.EXCLUDED and after[r.id].record_id is None for r in targets)
    assert rows(demo_store, f"SELECT count(*) FROM record WHERE disabled = 1 AND id IN ({','.join(map(str, records))})"
                )[0][0] == len(records)
    assert _batches(demo_store) == [(result.result.batch, "exclude", len(targets))]
    # One summary line in the log, not one per resource.
    assert rows(demo_store, "SELECT count(*) FROM sync_log_entry WHERE message LIKE 'tester: excluded%'")[0][0] == 1

    undone = actions.undo(demo_store)
    assert undone.message == f"undid exclude of {len(targets)} resources"
    restored = {r.id: r for r in queries.resource_page(demo_store, flt, limit=1000)}
    assert {r.id: (r.status, r.record_id, r.record_disabled) for r in targets} == {
        i: (r.status, r.record_id, r.record_disabled) for i, r in restored.items()}


def test_bulk_exclude_skips_excluded_and_refuses_when_the_marks_changed(demo_store):
    flt = ResourceFilter(_cw(demo_store), text="globex")
    total = queries.count_resources(demo_store, flt)
    excluded = queries.count_resources(demo_store, ResourceFilter(_cw(demo_store), text="globex",
                                                                  status=SyncStatus.EXCLUDED))
    with pytest.raises(StaleResourceError, match="changed since you confirmed"):
        bulk.exclude(demo_store, Marks((flt,)), expected_count=total + 1)
    assert _batches(demo_store) == []
    result = bulk.exclude(demo_store, Marks((flt,)), expected_count=total)
    assert (result.changed, result.skipped) == (total - excluded, excluded)
    with pytest.raises(ActionError, match="excluded already"):
        bulk.exclude(demo_store, Marks((flt,)))


def test_bulk_include_then_undo_and_redo(demo_store):
    flt = ResourceFilter(_cw(demo_store), status=SyncStatus.EXCLUDED)
    excluded = {r.id for r in queries.iter_resources(demo_store, flt)}
    result = bulk.include(demo_store, Marks((flt,)))
    assert result.changed == len(excluded)
    assert queries.count_resources(demo_store, flt) == 0

    pending = actions.pending(demo_store, "undo")
    assert pending.title == f"Undo include of {len(excluded)} resources?"
    assert "Not Synced → Excluded" in pending.lines[0]
    actions.undo(demo_store)
    assert {r.id for r in queries.iter_resources(demo_store, flt)} == excluded

    pending = actions.pending(demo_store, "redo")
    assert pending.title == f"Redo include of {len(excluded)} resources?"
    assert "Excluded → Not Synced" in pending.lines[0]
    assert actions.redo(demo_store).message == f"redid include of {len(excluded)} resources"
    assert queries.count_resources(demo_store, flt) == 0
    assert actions.pending(demo_store, "redo") is None
    actions.undo(demo_store)  # undoes the redo
    assert {r.id for r in queries.iter_resources(demo_store, flt)} == excluded


def test_redo_walks_back_up_the_undo_chain_and_a_new_action_ends_it(demo_store):
    a, b, c = _page(demo_store, status=SyncStatus.MATCHED)[:3]
    actions.exclude(demo_store, a.id)
    actions.exclude(demo_store, b.id)
    actions.undo(demo_store)  # b
    actions.undo(demo_store)  # a
    assert actions.redo(demo_store).message.startswith("redid exclude of ")
    assert queries.get_resource(demo_store, a.id).status is SyncStatus.EXCLUDED
    assert queries.get_resource(demo_store, b.id).status is SyncStatus.MATCHED
    actions.redo(demo_store)
    assert queries.get_resource(demo_store, b.id).status is SyncStatus.EXCLUDED
    with pytest.raises(ActionError, match="nothing to redo"):
        actions.redo(demo_store)
    actions.undo(demo_store)  # b again
    actions.exclude(demo_store, c.id)  # a new action: b's undo can no longer be redone
    with pytest.raises(ActionError, match="nothing to redo"):
        actions.redo(demo_store)
    assert actions.pending(demo_store, "redo") is None


def test_redo_refused_when_the_resource_changed_since(demo_store):
    a = _page(demo_store, status=SyncStatus.MATCHED)[0]
    actions.exclude(demo_store, a.id)
    actions.undo(demo_store)
    actions.exclude(demo_store, a.id, operator="akumar")
    with pytest.raises(StaleResourceError, match="changed by akumar"):
        actions.redo(demo_store)


def test_a_bulk_action_leaves_alone_and_names_the_rows_changed_since_they_were_marked(demo_store):
    """Filter marks carry a snapshot, rows marked one by one their version: what another
    operator changed since is left as they left it, and listed; the rest is acted on."""
    flt = ResourceFilter(_cw(demo_store), text="globex", type=ResourceType.DEVICE)
    rows_then = queries.resource_page(demo_store, flt, limit=1000)
    contact = _page(demo_store, type=ResourceType.CONTACT, status=SyncStatus.MATCHED)[0]
    marks = Marks().with_filter(flt, bulk.snapshot(demo_store, _cw(demo_store))).toggle(contact)
    changed = next(r for r in rows_then if r.status is SyncStatus.MATCHED)
    actions.exclude(demo_store, changed.id, operator="akumar")
    actions.include(demo_store, changed.id, operator="akumar")  # back to Not Synced, still under the filter
    actions.exclude(demo_store, contact.id, operator="akumar")
    actions.include(demo_store, contact.id, operator="akumar")

    result = bulk.exclude(demo_store, marks, expected_count=len(rows_then) + 1)

    assert result.changed == len([r for r in rows_then if r.status is not SyncStatus.EXCLUDED]) - 1
    assert "left alone, changed since you marked them: " in result.message
    assert f"device {changed.name!r} (changed by akumar at " in result.message
    assert f"contact {contact.name!r} (changed by akumar at " in result.message
    assert queries.get_resource(demo_store, changed.id).status is SyncStatus.NOT_SYNCED  # akumar's word stands
    assert queries.get_resource(demo_store, contact.id).status is SyncStatus.NOT_SYNCED


def test_a_sync_since_the_marks_refuses_the_filter_rows(demo_store):
    from syncview.config import Config
    from syncview.services import integrations
    from syncview.services.sync import sync_integration

    flt = ResourceFilter(_cw(demo_store), text="globex")
    marks = Marks().with_filter(flt, bulk.snapshot(demo_store, _cw(demo_store)))
    psa = next(i for i in integrations.syncable(demo_store, Config(path=None)) if i.name == "ConnectWise Manage")
    sync_integration(demo_store, psa)
    with pytest.raises(StaleResourceError, match=r"a sync ran since you marked these \(run \d+, started .*\) "
                                                 r"and may have changed any of them; nothing was done: mark them "
                                                 r"again \(-, then \*\) and act"):
        bulk.exclude(demo_store, marks)
    assert _batches(demo_store) == []


def test_rows_that_arrived_after_the_marks_are_not_acted_on(demo_store):
    newest = queries.get_resource(demo_store, rows(demo_store, "SELECT max(id) FROM resource")[0][0])
    flt = ResourceFilter(newest.integration_id, type=newest.type)
    taken = bulk.snapshot(demo_store, newest.integration_id)
    marks = Marks().with_filter(flt, bulk.Snapshot(newest.id - 1, taken.audit_id, taken.run_id))  # before it came
    result = bulk.exclude(demo_store, marks)
    assert f"{newest.type.value} {newest.name!r} (new since you marked them)" in result.message
    assert queries.get_resource(demo_store, newest.id).status is newest.status


def test_a_bulk_action_and_its_undo_are_one_log_line_each_with_their_count(demo_store):
    from syncview.services import actions

    integration = queries.get_integration(demo_store, "ConnectWise Manage")
    flt = ResourceFilter(integration.id, status=SyncStatus.NOT_SYNCED)
    targets = [r.id for r in queries.resource_page(demo_store, flt, limit=10)]
    marks = Marks(added=frozenset(targets))
    before = rows(demo_store, "SELECT count(*) FROM sync_log_entry")[0][0]
    bulk.exclude(demo_store, marks, expected_count=len(targets), operator="tester")
    actions.undo(demo_store, operator="tester")
    lines = [m for (m,) in rows(demo_store, "SELECT message FROM sync_log_entry ORDER BY id")][before:]
    assert len(lines) == 2, lines
    assert lines[0] == "tester: excluded 10 resources" and "10 resources" in lines[1]
