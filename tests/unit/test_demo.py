"""The demo MSP: deterministic, exactly as big as asked, and believable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from syncview.demo import INTEGRATIONS, PSA, RMM, DemoWorld, client_count
from syncview.errors import ActionError
from syncview.services.seed import seed_demo
from syncview.store import Store, open_store
from tests.conftest import DEMO_RESOURCES
from tests.helpers import rows

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
TABLES = ("integration", "client", "record", "resource", "syncrun", "sync_log_entry", "audit_event")


def dump(store: Store) -> dict[str, list[tuple]]:
    """Every demo table's rows, in id order."""
    return {table: rows(store, f"SELECT * FROM {table} ORDER BY id") for table in TABLES}


def seeded(path: Path, resources: int, seed: int = 7) -> Store:
    store = open_store(path)
    seed_demo(store, resources, seed=seed, now=NOW)
    return store


def world_rows(world: DemoWorld) -> list:
    return [(c.id, c.name, [tuple(vars_of(r)) for r in c.records], [tuple(vars_of(r)) for r in c.resources])
            for c in world]


def vars_of(obj) -> list:
    return [getattr(obj, name) for name in obj.__slots__]


# --- determinism --------------------------------------------------------------------------------------

def test_the_same_seed_builds_the_same_world():
    assert world_rows(DemoWorld(1_500, seed=3)) == world_rows(DemoWorld(1_500, seed=3))


def test_another_seed_builds_another_world():
    assert world_rows(DemoWorld(1_500, seed=3)) != world_rows(DemoWorld(1_500, seed=4))


def test_the_same_seed_writes_the_same_rows(tmp_path):
    first, second = seeded(tmp_path / "a.db", 1_500), seeded(tmp_path / "b.db", 1_500)
    try:
        assert dump(first) == dump(second)
    finally:
        first.close()
        second.close()


# --- size ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("resources", [16, 999, DEMO_RESOURCES])
def test_exactly_the_resources_asked_for(tmp_path, resources):
    store = open_store(tmp_path / "demo.db")
    try:
        summary = seed_demo(store, resources, now=NOW)
        assert summary.resources == resources == rows(store, "SELECT count(*) FROM resource")[0][0]
        assert summary.integrations == 2
        assert summary.clients == client_count(resources) == rows(store, "SELECT count(*) FROM client")[0][0]
        assert summary.records == rows(store, "SELECT count(*) FROM record")[0][0]
        assert summary.sync_runs == rows(store, "SELECT count(*) FROM syncrun")[0][0] == 2 * 28 * 24 // 6
        assert summary.log_entries == rows(store, "SELECT count(*) FROM sync_log_entry")[0][0]
    finally:
        store.close()


def test_too_small_a_demo_is_refused():
    with pytest.raises(ValueError, match="at least 16"):
        DemoWorld(15)


def test_seeding_twice_is_refused_and_changes_nothing(demo_store):
    before = dump(demo_store)
    with pytest.raises(ActionError, match="already holds the demo"):
        seed_demo(demo_store, 100)
    assert dump(demo_store) == before


# --- believable -------------------------------------------------------------------------------------

@pytest.mark.parametrize("integration", list(INTEGRATIONS))
def test_a_believable_status_mix(demo_store, integration):
    counts = dict(rows(demo_store, "SELECT status, count(*) FROM resource JOIN integration ON integration.id = "
                                   "resource.integration_id WHERE integration.name = ? GROUP BY status", integration))
    total = sum(counts.values())
    assert counts["matched"] / total > 0.6
    assert 0.03 < counts["not_synced"] / total < 0.35
    assert 0.005 < counts["excluded"] / total < 0.15


def test_every_type_is_present_and_the_rmm_holds_devices(demo_store):
    types = {t for (t,) in rows(demo_store, "SELECT DISTINCT type FROM resource")}
    assert types == {"client", "site", "device", "contact"}
    rmm_types = {t for (t,) in rows(demo_store, "SELECT DISTINCT type FROM resource JOIN integration ON "
                                                "integration.id = resource.integration_id "
                                                "WHERE integration.name = ?", RMM)}
    assert rmm_types == {"client", "device"}


def test_the_psa_spells_some_clients_differently(demo_store):
    [(status, client_id)] = rows(
        demo_store, "SELECT resource.status, resource.client_id FROM resource JOIN integration ON integration.id ="
                    " resource.integration_id WHERE integration.name = ? AND resource.name = ?",
        PSA, "Acme Corporation, Inc.")
    assert (status, client_id) == ("not_synced", None)  # nothing matched it: the operator's job
    assert rows(demo_store, "SELECT count(*) FROM record WHERE type = 'client' AND name = 'Acme Corp'") == [(1,)]


def test_some_records_are_documented_under_another_spelling(demo_store):
    variants = rows(demo_store, "SELECT count(*) FROM record WHERE name LIKE '% (old)' OR name LIKE '%.corp.local'")
    assert variants[0][0] > 0


def test_matched_resources_link_records_of_their_type_and_client(demo_store):
    mismatched = rows(demo_store, "SELECT count(*) FROM resource JOIN record ON record.id = resource.record_id "
                                  "WHERE record.type != resource.type OR record.client_id != resource.client_id")
    assert mismatched == [(0,)]
    assert rows(demo_store, "SELECT count(*) FROM resource WHERE status = 'matched' AND record_id IS NULL") == [(0,)]
    assert rows(demo_store, "SELECT count(*) FROM resource WHERE status != 'matched' "
                            "AND record_id IS NOT NULL") == [(0,)]


def test_every_exclusion_is_an_audited_operator_decision(demo_store):
    [(excluded,)] = rows(demo_store, "SELECT count(*) FROM resource WHERE status = 'excluded'")
    [(audited,)] = rows(demo_store, "SELECT count(DISTINCT resource_id) FROM audit_event WHERE action = 'exclude'")
    assert audited == excluded > 0


def test_a_few_resources_were_removed_remotely(demo_store):
    [(removed,)] = rows(demo_store, "SELECT count(*) FROM resource WHERE deleted_remotely")
    assert 0 < removed < DEMO_RESOURCES * 0.05


def test_sync_runs_spread_over_past_weeks_with_a_few_failures(tmp_path):
    store = seeded(tmp_path / "demo.db", 1_000)
    try:
        started = [datetime.fromisoformat(t).replace(tzinfo=UTC)
                   for (t,) in rows(store, "SELECT started_at FROM syncrun")]
        assert NOW - max(started) < timedelta(hours=1)
        assert NOW - min(started) > timedelta(weeks=3)
        assert len({t.date() for t in started}) >= 21
        outcomes = dict(rows(store, "SELECT outcome, count(*) FROM syncrun GROUP BY outcome"))
        assert set(outcomes) == {"success", "partial", "failed"}
        assert outcomes["success"] > 10 * (outcomes["failed"] + outcomes["partial"])
        levels = {level for (level,) in rows(store, "SELECT DISTINCT level FROM sync_log_entry")}
        assert levels == {"info", "warning", "error"}
    finally:
        store.close()
