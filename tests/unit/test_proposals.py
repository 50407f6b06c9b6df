"""Proposals and suggestions: ranked by number-aware similarity, pre-selected only when unambiguous,
each with the reason beside it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from syncview.domain import ResourceType, SyncStatus, normalise_name
from syncview.errors import ActionError, StaleResourceError
from syncview.services import actions, bulk, proposals, queries
from syncview.services.bulk import Marks
from syncview.services.queries import ResourceFilter
from syncview.services.similarity import number_difference, similarity_key
from syncview.store import Store
from tests.helpers import rows

NOW = "2026-11-30 12:00:00"


class World:
    """A hand-made integration: clients, records and Not Synced resources, written with plain SQL."""

    def __init__(self, store: Store) -> None:
        self.store = store
        with store.write() as conn:
            conn.exec_driver_sql("INSERT INTO integration (name, kind, created_at) VALUES ('PSA', 'files', ?)",
                                 (NOW,))
            self.integration_id = conn.exec_driver_sql("SELECT max(id) FROM integration").scalar_one()
        self.clients: dict[str, int] = {}
        self.records: dict[str, int] = {}
        self.resources: dict[str, int] = {}

    def client(self, name: str) -> int:
        with self.store.write() as conn:
            conn.exec_driver_sql("INSERT INTO client (name, name_norm) VALUES (?, ?)", (name, normalise_name(name)))
            self.clients[name] = conn.exec_driver_sql("SELECT max(id) FROM client").scalar_one()
        return self.clients[name]

    def record(self, name: str, client: str, type_: ResourceType = ResourceType.DEVICE, *,
               disabled: bool = False) -> int:
        with self.store.write() as conn:
            conn.exec_driver_sql(
                "INSERT INTO record (type, client_id, name, name_norm, disabled, attributes, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, '{}', ?, ?)",
                (type_.value, self.clients[client], name, normalise_name(name), disabled, NOW, NOW))
            rid = conn.exec_driver_sql("SELECT max(id) FROM record").scalar_one()
        self.records.setdefault(name, rid)
        return rid

    def resource(self, name: str, client: str | None, type_: ResourceType = ResourceType.DEVICE, *,
                 record: int | None = None, company: str | None = None) -> int:
        status = SyncStatus.MATCHED if record else SyncStatus.NOT_SYNCED
        with self.store.write() as conn:
            conn.exec_driver_sql(
                "INSERT INTO resource (integration_id, type, external_id, name, name_norm, remote_company,"
                " client_id, payload, status, record_id, first_seen, last_seen, deleted_remotely, version)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, '{}', ?, ?, ?, ?, 0, 1)",
                (self.integration_id, type_.value, f"x{len(self.resources) + 1}", name, normalise_name(name),
                 company or client, self.clients[client] if client else None, status.value, record, NOW, NOW))
            self.resources[name] = conn.exec_driver_sql("SELECT max(id) FROM resource").scalar_one()
        return self.resources[name]

    def suggestions(self) -> dict[str, proposals.Proposal]:
        return {p.resource_name: p for p in proposals.suggestions(self.store, self.integration_id, threshold=0)}


def test_a_name_that_differs_in_a_number_ranks_but_is_never_preselected(store):
    world = World(store)
    world.client("Initech")
    world.record("INITEC-LT-133", "Initech")
    world.resource("INITEC-LT-353", "Initech")
    found = world.suggestions()["INITEC-LT-353"]
    assert found.record_name == "INITEC-LT-133" and found.score > 80
    assert not found.preselected
    assert found.reason == "name differs in a number: 353 vs 133"


def test_a_candidate_whose_numbers_agree_is_proposed_before_a_closer_spelling(store):
    world = World(store)
    world.client("Initech")
    world.record("INITEC-LT-133", "Initech")
    world.record("Initech laptop 353 (spare)", "Initech")
    world.resource("INITEC-LT-353", "Initech")
    found = world.suggestions()["INITEC-LT-353"]
    assert found.record_name == "Initech laptop 353 (spare)"
    assert [name for _, name, _ in found.others] == ["INITEC-LT-133"]


def test_the_same_name_spelt_another_way_is_preselected_when_it_is_the_only_one(store):
    world = World(store)
    world.client("Acme")
    world.record("ACME-WS-14", "Acme")
    world.record("Acme Corp", "Acme", ResourceType.CLIENT)
    world.resource("ACME-WS-014", "Acme")
    world.resource("Acme Corporation, Inc.", None, ResourceType.CLIENT)
    found = world.suggestions()
    assert found["ACME-WS-014"].record_name == "ACME-WS-14"
    assert found["ACME-WS-014"].preselected and found["ACME-WS-014"].reason == "same name, spelt differently"
    assert found["Acme Corporation, Inc."].preselected


def test_an_equal_name_is_preselected_and_says_so(store):
    world = World(store)
    world.client("Acme Corp")
    world.record("ACME-SRV-01", "Acme Corp")
    # Its company is unmatched: it is ranked against every client's records, and the record's
    # client must be its company spelt some way.
    world.resource("ACME-SRV-01", None, company="Acme Corporation, Inc.")
    found = world.suggestions()["ACME-SRV-01"]
    assert (found.preselected, found.reason, found.record_client) == (True, "same name", "Acme Corp")


def test_the_same_name_in_another_client_than_its_company_is_a_coincidence(store):
    world = World(store)
    world.client("Globex")
    world.record("PC-01", "Globex")
    world.resource("PC-01", None, company="Acme Corporation")
    found = world.suggestions()["PC-01"]
    assert (found.preselected, found.reason) == (False, "record is in another client: Globex")


def test_two_candidates_of_the_same_name_are_ambiguous(store):
    world = World(store)
    world.client("Acme")
    world.record("PC-01", "Acme")
    world.record("pc 01", "Acme")  # documented twice
    world.resource("PC-01", "Acme")
    found = world.suggestions()["PC-01"]
    assert found.record_name == "PC-01" and not found.preselected
    assert found.reason == "2 candidates within 3 points"


def test_a_similar_name_that_is_not_the_same_is_not_preselected(store):
    world = World(store)
    world.client("Acme")
    world.record("ACME-WS-014 (old)", "Acme")
    world.record("Ana Browning", "Acme", ResourceType.CONTACT)
    world.resource("ACME-WS-014", "Acme")
    world.resource("Ana Brown", "Acme", ResourceType.CONTACT)
    found = world.suggestions()
    for name in ("ACME-WS-014", "Ana Brown"):
        assert not found[name].preselected
        assert found[name].reason == "similar name, not the same"


def test_a_disabled_record_is_proposed_but_never_preselected(store):
    world = World(store)
    world.client("Acme")
    world.record("ACME-NAS-01", "Acme", disabled=True)
    world.resource("ACME-NAS-01", "Acme")
    found = world.suggestions()["ACME-NAS-01"]
    assert found.record_name == "ACME-NAS-01"
    assert (found.preselected, found.reason) == (False, "record is disabled")


def test_two_resources_wanting_one_record_are_both_left_to_the_operator(store):
    world = World(store)
    world.client("Acme")
    world.record("ACME-FW-01", "Acme")
    world.resource("ACME-FW-01", "Acme")
    world.resource("acme fw 01", "Acme")  # the product holds it twice
    found = [p for p in proposals.suggestions(store, world.integration_id, threshold=0)]
    assert [p.record_name for p in found if p.record_id] == ["ACME-FW-01"]
    assert not any(p.preselected for p in found)
    winner = next(p for p in found if p.record_id)
    assert winner.reason.startswith("also the best candidate for ")


def test_a_record_linked_in_this_integration_is_never_proposed(store):
    world = World(store)
    world.client("Acme")
    taken = world.record("ACME-WS-001", "Acme")
    world.resource("ACME-WS-001", "Acme", record=taken)
    world.resource("acme-ws-001", "Acme")
    assert world.suggestions() == {}


def test_suggestions_are_sorted_by_score_and_accept_preselected_accepts_only_those(store):
    world = World(store)
    world.client("Initech")
    world.record("INITEC-LT-133", "Initech")
    world.record("INITEC-LT-200", "Initech")
    world.record("INITEC-SRV-01", "Initech")
    world.resource("INITEC-LT-353", "Initech")
    world.resource("INITEC-LT-200", "Initech")
    world.resource("initec srv 1", "Initech")
    found = proposals.suggestions(store, world.integration_id, threshold=0)
    assert [p.score for p in found] == sorted((p.score for p in found), reverse=True)
    result = proposals.accept_preselected(store, found, operator="tester")
    assert result is not None and result.changed == 2
    assert rows(store, "SELECT action, count(*) FROM audit_event GROUP BY batch, action") == [("rematch", 2)]
    assert queries.get_resource(store, world.resources["INITEC-LT-353"]).status is SyncStatus.NOT_SYNCED
    assert queries.get_resource(store, world.resources["INITEC-LT-200"]).record_name == "INITEC-LT-200"
    actions.undo(store, operator="tester")
    assert queries.get_resource(store, world.resources["INITEC-LT-200"]).status is SyncStatus.NOT_SYNCED
    assert proposals.accept_preselected(store, [p for p in found if not p.preselected]) is None


def test_proposals_for_marked_rows_carry_the_same_judgement(demo_store):
    cw = queries.get_integration(demo_store, "ConnectWise Manage").id
    flt = ResourceFilter(cw, status=SyncStatus.NOT_SYNCED)
    found = proposals.propose(demo_store, Marks((flt,)))
    assert len(found) == queries.count_resources(demo_store, flt)
    assert all(p.reason for p in found)
    assert all(not p.preselected for p in found if p.record_id is None)
    # Pre-selected means the same name and numbers, once spelt the same way.
    for p in found:
        if p.preselected:
            assert similarity_key(p.resource_name) == similarity_key(p.record_name)
            assert number_difference(p.resource_name, p.record_name) is None


# -- on the demo MSP ------------------------------------------------------------------------------

def _cw(store) -> int:
    return queries.get_integration(store, "ConnectWise Manage").id


def _batches(store) -> list[tuple]:
    return rows(store, "SELECT batch, action, count(*) FROM audit_event WHERE operator = 'tester' "
                       "GROUP BY batch, action ORDER BY min(id)")


def test_proposals_give_each_resource_a_different_best_record(demo_store):
    flt = ResourceFilter(_cw(demo_store), status=SyncStatus.NOT_SYNCED)
    found = proposals.propose(demo_store, Marks((flt,)))
    assert len(found) == queries.count_resources(demo_store, flt)
    chosen = [p.record_id for p in found if p.record_id is not None]
    assert len(chosen) == len(set(chosen)) > 0
    linked = {r[0] for r in rows(demo_store, "SELECT record_id FROM resource WHERE record_id IS NOT NULL "
                                             "AND integration_id = ?", _cw(demo_store))}
    assert not linked & set(chosen)
    best = next(p for p in found if p.resource_name == "ACME-LT-023")
    assert (best.record_name, best.score) == ("ACME-LT-023", 100.0)


def test_suggestions_are_above_the_threshold_best_first_and_accepted_in_bulk(demo_store):
    found = proposals.suggestions(demo_store, _cw(demo_store), threshold=90)
    scores = [p.score for p in found]
    assert found and min(scores) >= 90 and scores == sorted(scores, reverse=True)
    result = bulk.rematch(demo_store, found)
    assert result.changed == len(found)
    for proposal in found[:20]:
        row = queries.get_resource(demo_store, proposal.resource_id)
        assert (row.status, row.record_id) == (SyncStatus.MATCHED, proposal.record_id)
    assert _batches(demo_store) == [(result.result.batch, "rematch", len(found))]
    accepted = {p.resource_id for p in found}
    assert not accepted & {p.resource_id for p in proposals.suggestions(demo_store, _cw(demo_store), threshold=90)}
    actions.undo(demo_store)

    def pairs(found_):
        return [(p.resource_id, p.record_id, p.score, p.preselected, p.reason) for p in found_]

    assert pairs(proposals.suggestions(demo_store, _cw(demo_store), threshold=90)) == pairs(found)


def test_bulk_rematch_is_refused_whole_when_one_resource_changed(demo_store):
    found = proposals.suggestions(demo_store, _cw(demo_store))
    actions.exclude(demo_store, found[-1].resource_id, operator="akumar")
    with pytest.raises(StaleResourceError, match="1 resource changed since the preview.*akumar"):
        bulk.rematch(demo_store, found)
    assert _batches(demo_store) == []


def test_bulk_rematch_refuses_a_taken_record_and_a_duplicate(demo_store):
    found = proposals.suggestions(demo_store, _cw(demo_store))[:2]
    matched = queries.resource_page(demo_store, ResourceFilter(_cw(demo_store), status=SyncStatus.MATCHED,
                                                               type=found[0].type), limit=1)[0]
    with pytest.raises(ActionError, match="same record"):
        bulk.rematch(demo_store, [found[0], replace(found[1], record_id=found[0].record_id)])
    with pytest.raises(ActionError, match="already matched to"):
        bulk.rematch(demo_store, [replace(found[0], record_id=matched.record_id)])
    with pytest.raises(ActionError, match="every row is skipped"):
        bulk.rematch(demo_store, [replace(found[0], record_id=None)])
