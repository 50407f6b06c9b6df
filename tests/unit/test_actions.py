"""Operator actions: each writes its change, an audit event and a log entry together, or nothing."""

from __future__ import annotations

import pytest

from syncview.domain import ResourceType, SyncStatus
from syncview.errors import ActionError, StaleResourceError
from syncview.services import actions, matching, queries
from tests.helpers import audit, first, record_disabled, rows, sqlite_only


def matched_device(store):
    return first(store, type=ResourceType.DEVICE, status=SyncStatus.MATCHED, integration="Datto RMM")


def free_candidate(store, resource):
    return next(c for c in matching.rematch_candidates(store, resource.id) if c.linked_to is None)


def log_lines(store, resource_id):
    return [m for (m,) in rows(store, "SELECT message FROM sync_log_entry WHERE resource_id = ? "
                                      "AND sync_run_id IS NULL ORDER BY id", resource_id)]


def test_rematch_links_the_record_and_writes_audit_and_log(demo_store):
    resource = first(demo_store, type=ResourceType.CLIENT, status=SyncStatus.NOT_SYNCED)
    target = matching.rematch_candidates(demo_store, resource.id)[0].record
    result = actions.rematch(demo_store, resource.id, target.id, expected_version=resource.version)

    after = queries.get_resource(demo_store, resource.id)
    assert (after.status, after.record_id, after.version) == (SyncStatus.MATCHED, target.id, resource.version + 1)
    assert after.updated_by == "tester"
    assert after.client_id == target.client_id  # the record decides which client it belongs to
    [event] = audit(demo_store, resource.id)
    assert event["operator"] == "tester" and event["action"] == "rematch"
    assert event["before"]["status"] == "not_synced" and event["after"]["record_id"] == target.id
    assert log_lines(demo_store, resource.id) == [f"tester: {result.message}"]


def test_rematch_with_disable_previous_disables_the_old_record(demo_store):
    resource = matched_device(demo_store)
    target = free_candidate(demo_store, resource)
    actions.rematch(demo_store, resource.id, target.record.id, disable_previous=True)
    assert record_disabled(demo_store, resource.record_id)
    assert not record_disabled(demo_store, target.record.id)
    [event] = audit(demo_store, resource.id)
    assert event["before"]["records"] == {str(resource.record_id): {"disabled": False}}
    assert event["after"]["records"] == {str(resource.record_id): {"disabled": True}}


def test_rematch_without_disable_previous_keeps_the_old_record_enabled(demo_store):
    resource = matched_device(demo_store)
    target = free_candidate(demo_store, resource)
    actions.rematch(demo_store, resource.id, target.record.id)
    assert not record_disabled(demo_store, resource.record_id)


def test_rematch_to_a_record_of_another_type_is_refused(demo_store):
    resource = matched_device(demo_store)
    client_record = first(demo_store, type=ResourceType.CLIENT, status=SyncStatus.MATCHED).record_id
    with pytest.raises(ActionError, match="can only be matched to a device record"):
        actions.rematch(demo_store, resource.id, client_record)
    assert queries.get_resource(demo_store, resource.id) == resource
    assert audit(demo_store, resource.id) == []


def test_rematch_to_a_record_linked_to_another_resource_is_refused(demo_store):
    resource = matched_device(demo_store)
    taken = next(c for c in matching.rematch_candidates(demo_store, resource.id) if c.linked_to)
    with pytest.raises(ActionError, match="already matched to"):
        actions.rematch(demo_store, resource.id, taken.record.id)


def test_exclude_unlinks_and_can_disable_the_record(demo_store):
    resource = matched_device(demo_store)
    actions.exclude(demo_store, resource.id, disable_record=True, expected_version=resource.version)
    after = queries.get_resource(demo_store, resource.id)
    assert (after.status, after.record_id) == (SyncStatus.EXCLUDED, None)
    assert record_disabled(demo_store, resource.record_id)
    assert [e["action"] for e in audit(demo_store, resource.id)] == ["exclude"]
    assert log_lines(demo_store, resource.id)[0].startswith("tester: excluded device")


def test_exclude_without_disable_keeps_the_record_enabled(demo_store):
    resource = matched_device(demo_store)
    actions.exclude(demo_store, resource.id)
    assert not record_disabled(demo_store, resource.record_id)


def test_include_makes_an_excluded_resource_not_synced(demo_store):
    resource = first(demo_store, status=SyncStatus.EXCLUDED)
    actions.include(demo_store, resource.id)
    assert queries.get_resource(demo_store, resource.id).status is SyncStatus.NOT_SYNCED
    with pytest.raises(ActionError, match="is not excluded"):
        actions.include(demo_store, resource.id)


def test_exclude_twice_is_refused(demo_store):
    resource = first(demo_store, status=SyncStatus.EXCLUDED)
    with pytest.raises(ActionError, match="already excluded"):
        actions.exclude(demo_store, resource.id)


def test_an_action_on_a_resource_changed_since_it_was_read_is_refused(demo_store):
    resource = matched_device(demo_store)
    actions.exclude(demo_store, resource.id, operator="alice")
    with pytest.raises(StaleResourceError, match=r"changed by alice at .* reload"):
        actions.include(demo_store, resource.id, expected_version=resource.version)
    after = queries.get_resource(demo_store, resource.id)
    assert after.status is SyncStatus.EXCLUDED and after.updated_by == "alice"


@pytest.mark.parametrize("action", ["rematch", "exclude", "include"])
def test_undo_restores_the_exact_prior_state(demo_store, action):
    if action == "include":
        resource = first(demo_store, status=SyncStatus.EXCLUDED)
        actions.include(demo_store, resource.id)
    elif action == "exclude":
        resource = matched_device(demo_store)
        actions.exclude(demo_store, resource.id, disable_record=True)
    else:
        resource = matched_device(demo_store)
        actions.rematch(demo_store, resource.id, free_candidate(demo_store, resource).record.id,
                        disable_previous=True)
    records_before = rows(demo_store, "SELECT id, disabled FROM record ORDER BY id")

    result = actions.undo(demo_store)
    after = queries.get_resource(demo_store, resource.id)
    assert (after.status, after.record_id, after.client_id) == (resource.status, resource.record_id,
                                                               resource.client_id)
    assert after.version == resource.version + 2  # versions only grow, so stale reads stay detectable
    restored = rows(demo_store, "SELECT id, disabled FROM record ORDER BY id")
    if action != "include":
        assert restored != records_before
    assert not record_disabled(demo_store, resource.record_id) if resource.record_id else True
    assert [e["action"] for e in audit(demo_store, resource.id)][-2:] == [action, "undo"]
    assert result.message.startswith(f"undid {action}")


def test_undo_walks_back_one_action_at_a_time_then_says_nothing_left(demo_store):
    a, b = (first(demo_store, type=ResourceType.DEVICE, status=SyncStatus.MATCHED, integration=i)
            for i in ("Datto RMM", "ConnectWise Manage"))
    actions.exclude(demo_store, a.id)
    actions.exclude(demo_store, b.id)
    actions.undo(demo_store)
    assert queries.get_resource(demo_store, b.id).status is SyncStatus.MATCHED
    assert queries.get_resource(demo_store, a.id).status is SyncStatus.EXCLUDED
    actions.undo(demo_store)
    assert queries.get_resource(demo_store, a.id).status is SyncStatus.MATCHED
    with pytest.raises(ActionError, match="nothing to undo for tester"):
        actions.undo(demo_store)


def test_undo_only_touches_the_operators_own_actions(demo_store):
    resource = matched_device(demo_store)
    actions.exclude(demo_store, resource.id, operator="alice")
    with pytest.raises(ActionError, match="nothing to undo"):
        actions.undo(demo_store)
    assert queries.get_resource(demo_store, resource.id).status is SyncStatus.EXCLUDED


def test_undo_is_refused_when_the_resource_changed_since(demo_store):
    resource = matched_device(demo_store)
    actions.exclude(demo_store, resource.id)
    actions.include(demo_store, resource.id, operator="alice")
    actions.undo(demo_store, operator="alice")  # alice's include is undone: resource excluded again
    actions.include(demo_store, resource.id, operator="bob")
    with pytest.raises(StaleResourceError, match="changed by bob"):
        actions.undo(demo_store)
    assert queries.get_resource(demo_store, resource.id).status is SyncStatus.NOT_SYNCED


def test_a_failure_inside_an_action_writes_nothing(demo_store, monkeypatch):
    resource = matched_device(demo_store)
    audit_count = rows(demo_store, "SELECT count(*) FROM audit_event")

    def broken(*_args, **_kwargs):
        raise RuntimeError("disk went away")

    original_apply = actions._Batch.apply

    def apply_then_fail(self, *args, **kwargs):
        original_apply(self, *args, **kwargs)
        broken()

    monkeypatch.setattr(actions._Batch, "apply", apply_then_fail)
    with pytest.raises(RuntimeError):
        actions.exclude(demo_store, resource.id, disable_record=True)
    assert queries.get_resource(demo_store, resource.id) == resource
    assert not record_disabled(demo_store, resource.record_id)
    assert rows(demo_store, "SELECT count(*) FROM audit_event") == audit_count


def test_the_undo_question_names_the_record_it_enables_again(demo_store):
    resource = first(demo_store, type=ResourceType.DEVICE, status=SyncStatus.MATCHED)
    actions.exclude(demo_store, resource.id, disable_record=True)

    pending = actions.pending(demo_store, "undo")

    assert pending.lines == (f"device {resource.name!r}: Excluded → Matched, "
                             f"record {resource.record_name!r} enabled",)


def how(store, resource_id):
    return rows(store, "SELECT status, matched_on, reason FROM resource WHERE id = ?", resource_id)[0]


def test_a_rematch_says_operator_and_undo_puts_back_how_it_stood_and_why(demo_store):
    resource = first(demo_store, type=ResourceType.CLIENT, status=SyncStatus.NOT_SYNCED)
    before = how(demo_store, resource.id)
    assert before[0] == "not_synced" and before[2]  # the seeded reason
    target = matching.rematch_candidates(demo_store, resource.id)[0].record
    actions.rematch(demo_store, resource.id, target.id)
    assert how(demo_store, resource.id) == ("matched", "operator", None)
    [event] = audit(demo_store, resource.id)
    assert (event["before"]["reason"], event["after"]["matched_on"]) == (before[2], "operator")
    actions.undo(demo_store)
    assert how(demo_store, resource.id) == before


def test_exclude_and_include_say_how_the_resource_stands(demo_store):
    resource = matched_device(demo_store)
    assert how(demo_store, resource.id) == ("matched", "name", None)
    actions.exclude(demo_store, resource.id)
    assert how(demo_store, resource.id) == ("excluded", None, None)
    actions.include(demo_store, resource.id)
    assert how(demo_store, resource.id) == ("not_synced", None, actions.INCLUDED_REASON)
    actions.undo(demo_store)
    actions.undo(demo_store)
    assert how(demo_store, resource.id) == ("matched", "name", None)


@sqlite_only  # schema 2 was SQLite's alone
def test_an_audit_snapshot_from_schema_2_undoes_with_no_reason(demo_store):
    resource = matched_device(demo_store)
    actions.exclude(demo_store, resource.id)
    with demo_store.write() as conn:  # what a schema-2 syncview wrote: no matched_on, no reason
        conn.exec_driver_sql("UPDATE audit_event SET before = json_remove(before, '$.matched_on', '$.reason',"
                             " '$.reason_kind'), after = json_remove(after, '$.matched_on', '$.reason',"
                             " '$.reason_kind') WHERE resource_id = ?",
                             (resource.id,))
    actions.undo(demo_store)
    assert how(demo_store, resource.id) == ("matched", None, None)
