"""Matching rules and re-match candidate ranking."""

from __future__ import annotations

from syncview.domain import ResourceType, SyncStatus
from syncview.services import matching, queries
from syncview.identity import Keys
from syncview.services.matching import (
    Decision,
    MatchedOn,
    MatchInput,
    ReasonKind,
    RecordInfo,
    Records,
    Rule,
    decide,
)
from syncview.services.similarity import rank
from tests.helpers import first

DEVICE, CLIENT, CONTACT = ResourceType.DEVICE, ResourceType.CLIENT, ResourceType.CONTACT
NAME_ONLY = (Rule.NAME,)


def keys(**kinds) -> Keys:
    """Keys(serial="A", mac=["aa:..", ..]) -> Keys."""
    pairs = []
    for kind, values in kinds.items():
        for value in [values] if isinstance(values, str) else values:
            pairs.append((kind, value))
    return Keys.from_pairs(pairs)


def item(status=SyncStatus.NOT_SYNCED, record_id=None, client_id=1, name="acme ws 014", type_=DEVICE,
         notes=(), **kinds):
    return MatchInput(type_, client_id, name, status, record_id, keys(**kinds), notes, name.upper())


def records(*rows, taken=None) -> Records:
    """Records from (id, type, client id, name_norm[, keys]) rows."""
    found = Records()
    for record_id, type_, client_id, norm, *rest in rows:
        found.add(RecordInfo(record_id, type_, client_id, norm.upper(), norm, rest[0] if rest else Keys()))
    found.taken.update(taken or {})
    return found


def test_an_existing_link_is_kept():
    outcome = decide(item(SyncStatus.MATCHED, record_id=5), records((9, "device", 1, "acme ws 014")),
                     create_missing=True)
    assert (outcome.decision, outcome.record_id) == (Decision.KEEP, 5)


def test_an_excluded_resource_is_skipped_even_with_a_record_of_its_name():
    outcome = decide(item(SyncStatus.EXCLUDED), records((9, "device", 1, "acme ws 014")), create_missing=True)
    assert outcome.decision is Decision.SKIP


def test_equal_name_within_type_and_client_links_and_takes_the_record():
    free = records((9, "device", 1, "acme ws 014"))
    outcome = decide(item(), free, create_missing=False)
    assert (outcome.decision, outcome.record_id, outcome.matched_on) == (Decision.LINK, 9, MatchedOn.NAME)
    again = decide(item(), free, create_missing=False)  # 9 is taken now
    assert again.decision is Decision.NOT_SYNCED and "no unlinked device record" in again.reason


def test_same_name_in_another_client_or_type_does_not_link():
    free = records((9, "device", 2, "acme ws 014"), (10, "contact", 1, "acme ws 014"))
    assert decide(item(), free, create_missing=False).decision is Decision.NOT_SYNCED


def test_client_resources_match_client_records_by_name_alone():
    outcome = decide(item(type_=CLIENT, client_id=None, name="acme corp"), records((3, "client", 3, "acme corp")),
                     create_missing=False)
    assert (outcome.decision, outcome.record_id) == (Decision.LINK, 3)


def test_create_missing_creates_only_when_the_integration_says_so():
    outcome = decide(item(), records(), create_missing=True)
    assert (outcome.decision, outcome.matched_on) == (Decision.CREATE, MatchedOn.CREATED)
    outcome = decide(item(), records(), create_missing=False)
    assert outcome.decision is Decision.NOT_SYNCED and outcome.reason == "no unlinked device record of that name"
    assert outcome.kind is ReasonKind.NO_MATCH


def test_without_a_local_client_nothing_is_created_and_the_reason_says_why():
    outcome = decide(item(client_id=None), records(), create_missing=True)
    assert outcome.decision is Decision.NOT_SYNCED and "matches no local client" in outcome.reason


# --- identity keys ------------------------------------------------------------------------------

def test_a_serial_links_a_renamed_machine():
    free = records((9, "device", 1, "old name", keys(serial="5CG123")))
    outcome = decide(item(serial="5CG123"), free, create_missing=False)
    assert (outcome.decision, outcome.record_id, outcome.matched_on) == (Decision.LINK, 9, MatchedOn.SERIAL)


def test_keys_are_tried_in_order_the_first_that_finds_one_record_wins():
    free = records((9, "device", 1, "acme ws 014"), (10, "device", 1, "other", keys(mac="aa:bb:cc:dd:ee:01")))
    outcome = decide(item(mac="aa:bb:cc:dd:ee:01"), free, create_missing=False)
    assert (outcome.record_id, outcome.matched_on) == (10, MatchedOn.MAC)
    # With the name rule first, the name wins.
    free = records((9, "device", 1, "acme ws 014"), (10, "device", 1, "other", keys(mac="aa:bb:cc:dd:ee:01")))
    outcome = decide(item(mac="aa:bb:cc:dd:ee:01"), free, create_missing=False, rules=(Rule.NAME, Rule.MAC))
    assert (outcome.record_id, outcome.matched_on) == (9, MatchedOn.NAME)


def test_two_records_with_the_key_leave_the_item_not_synced_with_the_reason():
    free = records((9, "device", 1, "a", keys(serial="ABC123")), (10, "device", 1, "b", keys(serial="ABC123")))
    outcome = decide(item(serial="ABC123"), free, create_missing=True)
    assert outcome.decision is Decision.NOT_SYNCED and outcome.reason == "2 records share serial ABC123"
    assert outcome.kind is ReasonKind.AMBIGUOUS


def test_a_mac_that_singles_out_one_record_wins_over_one_that_several_records_share():
    vpn = "02:50:41:00:00:01"
    free = records((9, "device", 1, "a", keys(mac=["aa:00:00:00:00:09", vpn])), (10, "device", 1, "b", keys(mac=vpn)))
    outcome = decide(item(mac=["aa:00:00:00:00:09", vpn]), free, create_missing=False)
    assert (outcome.record_id, outcome.matched_on) == (9, MatchedOn.MAC)
    free = records((9, "device", 1, "a", keys(mac="aa:00:00:00:00:09")), (10, "device", 1, "b", keys(mac=vpn)))
    outcome = decide(item(mac=["aa:00:00:00:00:09", vpn]), free, create_missing=False)  # each singles out another
    assert outcome.kind is ReasonKind.AMBIGUOUS and outcome.reason.startswith("2 records share MAC")


def test_two_records_of_the_name_are_not_guessed_between():
    free = records((9, "device", 1, "acme ws 014"), (10, "device", 1, "acme ws 014"))
    outcome = decide(item(), free, create_missing=True)
    assert outcome.decision is Decision.NOT_SYNCED and outcome.reason == "2 device records are named like it"


def test_a_different_real_serial_beats_an_equal_name():
    free = records((9, "device", 1, "acme ws 014", keys(serial="OLD111")))
    outcome = decide(item(serial="NEW222"), free, create_missing=True)
    assert outcome.decision is Decision.NOT_SYNCED
    assert outcome.reason == ("same name as record 'ACME WS 014' but serial NEW222 differs from its OLD111 "
                              "(replaced hardware?)")
    assert outcome.kind is ReasonKind.CONFLICT


def test_a_record_without_the_key_links_by_name():
    outcome = decide(item(serial="NEW222"), records((9, "device", 1, "acme ws 014")), create_missing=False)
    assert (outcome.decision, outcome.matched_on) == (Decision.LINK, MatchedOn.NAME)


def test_a_key_whose_one_record_is_taken_does_not_fall_back_to_a_name():
    free = records((9, "device", 1, "x", keys(serial="ABC123")), (10, "device", 1, "acme ws 014"),
                   taken={9: "WS-OTHER"})
    outcome = decide(item(serial="ABC123"), free, create_missing=True)
    assert outcome.decision is Decision.NOT_SYNCED
    assert outcome.reason == "serial ABC123 is on record 'X', already matched to 'WS-OTHER'"
    assert outcome.kind is ReasonKind.TAKEN


def test_a_host_name_matches_a_record_named_by_it():
    outcome = decide(item(name="pc 01 corp local", host="pc 01"), records((9, "device", 1, "pc 01")),
                     create_missing=False)
    assert (outcome.record_id, outcome.matched_on) == (9, MatchedOn.NAME)


def test_contacts_link_on_email_whatever_their_display_names():
    free = records((9, "contact", 1, "ana brown", keys(email="ana@acme.example")))
    outcome = decide(item(type_=CONTACT, name="brown ana", email="ana@acme.example"), free, create_missing=False)
    assert (outcome.record_id, outcome.matched_on) == (9, MatchedOn.EMAIL)


def test_a_cross_reference_links_a_client_and_a_different_one_beats_its_name():
    free = records((3, "client", 3, "acme", keys(xref="autotask:client:5")))
    outcome = decide(item(type_=CLIENT, client_id=None, name="acme corp", xref="autotask:client:5"), free,
                     create_missing=False)
    assert (outcome.record_id, outcome.matched_on) == (3, MatchedOn.XREF)
    free = records((3, "client", 3, "acme corp", keys(xref="autotask:client:5")))
    outcome = decide(item(type_=CLIENT, client_id=None, name="acme corp", xref="autotask:client:6"), free,
                     create_missing=False)
    assert outcome.decision is Decision.NOT_SYNCED and "cross-reference autotask:client:6 differs" in outcome.reason


def test_only_the_integrations_rules_are_applied():
    free = records((9, "device", 1, "renamed", keys(serial="ABC123")))
    assert decide(item(serial="ABC123"), free, create_missing=False, rules=NAME_ONLY).decision \
        is Decision.NOT_SYNCED


def test_notes_on_left_out_keys_end_the_reason():
    outcome = decide(item(notes=("serial 'Default string' is a placeholder",)), records(), create_missing=False)
    assert outcome.reason == "no unlinked device record of that name; serial 'Default string' is a placeholder"


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
    """The rules applied to the seeded demo would change nothing, reasons included."""
    for integration in queries.list_integrations(demo_store):
        flt = queries.ResourceFilter(integration.id)
        rows = list(queries.iter_resources(demo_store, flt))
        stored = queries.resource_keys(demo_store, [row.id for row in rows])
        inputs = [MatchInput(row.type, row.client_id, matching.normalise_name(row.name), row.status, row.record_id,
                             stored.get(row.id, Keys()), (), row.name) for row in rows]
        found = matching.records_for(demo_store, integration.id, inputs)
        for row, inp in zip(rows, inputs, strict=True):
            outcome = decide(inp, found, create_missing=False)
            expected = {SyncStatus.MATCHED: Decision.KEEP, SyncStatus.EXCLUDED: Decision.SKIP,
                        SyncStatus.NOT_SYNCED: Decision.NOT_SYNCED}[row.status]
            assert outcome.decision is expected, row


def test_new_hardware_under_a_linked_machines_name_says_the_serial_differs():
    """The old machine is still linked to the record of its host name (it went quiet, not away):
    the new one is Not Synced because its serial is not the record's, and says so, not "no record"."""
    linked = records((9, "device", 1, "acme ws 014", keys(serial="OLD111")), taken={9: "ACME-WS-014"})
    outcome = decide(item(serial="NEW222"), linked, create_missing=False)
    assert (outcome.decision, outcome.kind) == (Decision.NOT_SYNCED, ReasonKind.CONFLICT)
    assert outcome.reason == ("same name as record 'ACME WS 014' but serial NEW222 differs from its OLD111 "
                              "(replaced hardware?)")
    # With create_missing the new machine gets a record of its own, as before.
    assert decide(item(serial="NEW222"), linked, create_missing=True).decision is Decision.CREATE
    # A taken record of its name that no key contradicts is simply no record for it.
    plain = records((9, "device", 1, "acme ws 014"), taken={9: "ACME-WS-014"})
    outcome = decide(item(serial="NEW222"), plain, create_missing=False)
    assert outcome.kind is ReasonKind.NO_MATCH and outcome.reason.startswith("no unlinked device record")
