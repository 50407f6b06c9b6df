"""`syncview suggestions`: the proposals with their score, reason and pre-selection, and --accept,
which accepts the pre-selected ones as one audited, undoable batch."""

from __future__ import annotations

from syncview.services import proposals
from syncview.store import open_store
from tests.cli.conftest import query, snapshot

PSA, RMM = "ConnectWise Manage", "Datto RMM"


def _expected(db, integration: str) -> list[proposals.Proposal]:
    store = open_store(db)
    try:
        integration_id = query(db, "SELECT id FROM integration WHERE name = ?", integration)[0][0]
        return proposals.suggestions(store, integration_id)
    finally:
        store.close()


def test_suggestions_json_lists_resource_record_score_reason_and_preselected(sv, db):
    expected = _expected(db, PSA)
    listed = sv.json("suggestions", "--integration", PSA)
    assert len(listed) == len(expected) > 0
    for item, proposal in zip(listed, expected, strict=True):
        assert item["integration"] == PSA
        assert item["resource"]["id"] == proposal.resource_id
        assert item["resource"]["name"] == proposal.resource_name
        assert item["record"] == {"id": proposal.record_id, "name": proposal.record_name,
                                  "client": proposal.record_client}
        assert (item["score"], item["reason"], item["preselected"]) == (
            proposal.score, proposal.reason, proposal.preselected)
    assert any(item["preselected"] for item in listed) and not all(item["preselected"] for item in listed)
    # Every pre-selected pair is a free record of the resource's type.
    for item in listed:
        [(rtype,)] = query(db, "SELECT type FROM record WHERE id = ?", item["record"]["id"])
        assert rtype == item["resource"]["type"]


def test_suggestions_of_every_integration_without_the_option(sv, db):
    listed = sv.json("suggestions")
    assert {item["integration"] for item in listed} == {PSA, RMM}
    assert len(listed) == len(_expected(db, PSA)) + len(_expected(db, RMM))


def test_suggestions_table_says_how_many_are_preselected_and_how_to_accept(sv, db):
    expected = _expected(db, PSA)
    output = sv.ok("suggestions", "-i", PSA).stdout
    preselected = sum(p.preselected for p in expected)
    assert f"{len(expected):,} suggestions, {preselected:,} pre-selected" in output
    assert "syncview suggestions --accept" in output
    assert expected[0].reason in output


def test_accept_links_only_the_preselected_in_one_batch_and_one_undo(sv, db):
    expected = _expected(db, PSA)
    chosen = [p for p in expected if p.preselected]
    output = sv.ok("suggestions", "-i", PSA, "--accept").stdout
    assert f"re-matched {len(chosen):,} resources" in output
    for proposal in expected:
        [(status, record_id)] = query(db, "SELECT status, record_id FROM resource WHERE id = ?",
                                      proposal.resource_id)
        if proposal.preselected:
            assert (status, record_id) == ("matched", proposal.record_id)
        else:
            assert status == "not_synced"
    assert query(db, "SELECT action, count(*), count(DISTINCT operator) FROM audit_event "
                     "WHERE action = 'rematch' GROUP BY batch, action") == [("rematch", len(chosen), 1)]
    sv.ok("undo")
    for proposal in chosen:
        assert query(db, "SELECT status FROM resource WHERE id = ?", proposal.resource_id) == [("not_synced",)]


def test_accept_json_reports_the_batch(sv, db):
    chosen = [p for p in _expected(db, PSA) if p.preselected]
    report = sv.json("suggestions", "-i", PSA, "--accept")
    assert report["changed"] == len(chosen)
    assert sorted(report["resource_ids"]) == sorted(p.resource_id for p in chosen)
    assert query(db, "SELECT count(*) FROM audit_event WHERE batch = ?", report["batch"]) == [(len(chosen),)]


def test_accept_with_nothing_preselected_changes_nothing(sv, db):
    sv.ok("suggestions", "-i", PSA, "--accept")
    before = snapshot(db)
    output = sv.ok("suggestions", "-i", PSA, "--accept").stdout
    assert "nothing accepted" in output
    assert snapshot(db) == before


def test_suggestions_of_an_unknown_integration_fail_cleanly(sv, db):
    before = snapshot(db)
    assert "Nope" in sv.fails("suggestions", "-i", "Nope", "--accept")
    assert snapshot(db) == before
