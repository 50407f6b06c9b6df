"""Matching rules and re-match candidate ranking."""

from __future__ import annotations

from syncview.domain import ResourceType, SyncStatus
from syncview.services import matching, queries
from syncview.services.matching import Decision, MatchInput, decide
from syncview.services.similarity import rank
from tests.helpers import first

DEVICE = ResourceType.DEVICE


def item(status=SyncStatus.NOT_SYNCED, record_id=None, client_id=1, name="acme ws 014", type_=DEVICE):
    return MatchInput(type_, client_id, name, status, record_id)


def test_an_existing_link_is_kept():
    outcome = decide(item(SyncStatus.MATCHED, record_id=5), {("device", 1, "acme ws 014"): [9]},
                     create_missing=True)
    assert (outcome.decision, outcome.record_id) == (Decision.KEEP, 5)


def test_an_excluded_resource_is_skipped_even_with_a_record_of_its_name():
    outcome = decide(item(SyncStatus.EXCLUDED), {("device", 1, "acme ws 014"): [9]}, create_missing=True)
    assert outcome.decision is Decision.SKIP


def test_equal_name_within_type_and_client_links_and_consumes_the_record():
    free = {("device", 1, "acme ws 014"): [9]}
    assert decide(item(), free, create_missing=False).record_id == 9
    assert decide(item(), free, create_missing=False).decision is Decision.NOT_SYNCED  # 9 is taken now


def test_same_name_in_another_client_or_type_does_not_link():
    free = {("device", 2, "acme ws 014"): [9], ("contact", 1, "acme ws 014"): [10]}
    assert decide(item(), free, create_missing=False).decision is Decision.NOT_SYNCED


def test_client_resources_match_client_records_by_name_alone():
    free = matching.free_records_index([(3, "client", 3, "acme corp")])
    outcome = decide(item(type_=ResourceType.CLIENT, client_id=None, name="acme corp"), free,
                     create_missing=False)
    assert (outcome.decision, outcome.record_id) == (Decision.LINK, 3)


def test_create_missing_creates_only_when_the_integration_says_so():
    assert decide(item(), {}, create_missing=True).decision is Decision.CREATE
    outcome = decide(item(), {}, create_missing=False)
    assert outcome.decision is Decision.NOT_SYNCED and "no unlinked device record" in outcome.reason


def test_without_a_local_client_nothing_is_created_and_the_reason_says_why():
    outcome = decide(item(client_id=None), {}, create_missing=True)
    assert outcome.decision is Decision.NOT_SYNCED and "matches no local client" in outcome.reason


def test_similarity_ranks_legal_name_variants_first():
    choices = {1: "Acme Dental LLC", 2: "ACME Corp", 3: "Globex Corporation", 4: "Acme Corp (old)"}
    ranked = rank("Acme Corporation, Inc.", choices)
    assert ranked[0] == (2, 100.0)
    assert [key for key, _ in ranked][-1] == 3


def test_candidates_are_records_of_the_same_type_best_first(demo_store):
    resource = first(demo_store, type=ResourceType.CLIENT, status=SyncStatus.NOT_SYNCED)
    assert resource.name == "Acme Corporation, Inc."
    found = matching.rematch_candidates(demo_store, resource.id)
    assert found[0].record.name == "Acme Corp" and found[0].linked_to is None
    assert all(c.record.type is ResourceType.CLIENT for c in found)
    assert [c.score for c in found] == sorted((c.score for c in found), reverse=True)


def test_candidates_narrow_to_the_operators_search(demo_store):
    resource = first(demo_store, type=ResourceType.DEVICE, status=SyncStatus.NOT_SYNCED, integration="Datto RMM")
    found = matching.rematch_candidates(demo_store, resource.id, search="srv")
    assert found and all("SRV" in c.record.name.upper() for c in found)
    assert all(c.record.client_id == resource.client_id for c in found)


def test_the_demo_store_is_consistent_with_the_rules(demo_store):
    """A sync applying the rules to the seeded demo would change nothing."""
    for integration in queries.list_integrations(demo_store):
        free = matching.load_free_records(demo_store, integration.id)
        flt = queries.ResourceFilter(integration.id)
        for row in queries.iter_resources(demo_store, flt):
            outcome = decide(MatchInput(row.type, row.client_id, matching.normalise_name(row.name),
                                        row.status, row.record_id), free, create_missing=False)
            expected = {SyncStatus.MATCHED: Decision.KEEP, SyncStatus.EXCLUDED: Decision.SKIP,
                        SyncStatus.NOT_SYNCED: Decision.NOT_SYNCED}[row.status]
            assert outcome.decision is expected, row
