"""Name similarity that respects numbers: it ranks candidates for a person and never links."""

from __future__ import annotations

import pytest

from syncview.services.similarity import Ranker, number_difference, rank, rank_many, similarity_key


def test_similarity_key_drops_legal_forms_and_leading_zeros():
    assert similarity_key("Acme Corporation, Inc.") == similarity_key("ACME Corp") == "acme"
    assert similarity_key("ACME-WS-014") == similarity_key("acme ws 14") == "acme ws 14"
    assert similarity_key("Room 0") == "room 0"  # a zero is still a number


@pytest.mark.parametrize(("a", "b", "difference"), [
    ("INITEC-LT-353", "INITEC-LT-133", "353 vs 133"),
    ("SRV-321", "SRV-236", "321 vs 236"),
    ("Acme - Main Office", "Acme - Main Office 2", "none vs 2"),
    ("DUNDLOG-WS-1087", "DUNDLOG-WS-187", "1087 vs 187"),
    ("ACMEDEN2-WS-001", "ACMEDEN3-WS-001", "2 vs 3"),
])
def test_names_that_differ_in_a_number_say_which(a, b, difference):
    assert number_difference(a, b) == difference


@pytest.mark.parametrize(("a", "b"), [
    ("ACME-WS-014", "ACME-WS-14"),  # leading zeros are spelling
    ("ACME-WS-014", "ACME-WS-014 (old)"),
    ("Ana Brown", "A. Brown"),
    ("Acme Corp", "ACME Corporation, Inc."),
])
def test_names_whose_numbers_agree_have_no_difference(a, b):
    assert number_difference(a, b) is None


def test_candidates_whose_numbers_agree_rank_before_closer_spellings_that_do_not():
    choices = {1: "INITEC-LT-133", 2: "INITEC-LT-353 (old)", 3: "INITEC-LT-335", 4: "Globex"}
    ranked = rank("INITEC-LT-353", choices)
    assert ranked[0][0] == 2
    assert {key for key, _ in ranked[1:3]} == {1, 3}  # still offered, after it
    # The score stays the similarity of the names: a person reads it beside the number warning.
    assert dict(ranked)[1] > 80


def test_a_search_ranks_by_similarity_alone():
    choices = {1: "SRV-01", 2: "SRV", 3: "SRV-02"}
    ranked = rank("srv", choices, numbers=False)
    assert ranked[0] == (2, 100.0)


def test_rank_many_keys_the_choices_once_and_agrees_with_rank():
    choices = {1: "ACME-WS-001", 2: "ACME-WS-002", 3: "ACME-WS-010"}
    many = rank_many({7: "acme-ws-2", 8: "acme-ws-10"}, choices)
    assert many[7][0] == (2, 100.0) and many[8][0] == (3, 100.0)
    assert many[7] == rank("acme-ws-2", choices)


def test_ranker_finds_equal_keys_without_scoring_every_choice():
    ranker = Ranker({1: "ACME-WS-014", 2: "acme ws 14", 3: "ACME-WS-015"})
    assert ranker.equal("Acme WS 014") == [1, 2]
    assert ranker.rank("Acme WS 014", limit=2) == [(1, 100.0), (2, 100.0)]
    assert ranker.equal("ACME-WS-016") == []
