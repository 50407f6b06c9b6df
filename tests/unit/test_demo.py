"""The demo MSP: deterministic, exactly as big as asked, and believable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from syncview.demo import INTEGRATIONS, PSA, RMM, VPN_MAC, DemoWorld, client_count
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
    [(removed,)] = rows(demo_store, "SELECT count(*) FROM resource WHERE deleted_remotely = 1")
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


# --- identity keys: the stories matching on names alone gets wrong -------------------------------------

def _hex(mac: str) -> str:
    return "".join(ch for ch in mac.lower() if ch in "0123456789abcdef")


def _resources(world: DemoWorld) -> list:
    return [res for client in world for res in client.resources]


def _records(world: DemoWorld) -> dict[int, object]:
    return {rec.id: rec for client in world for rec in client.records}


def test_every_device_and_contact_carries_the_keys_its_product_sends():
    world = DemoWorld(3_000, seed=5)
    found = _resources(world)
    for res in found:
        if res.type.value == "device":
            assert res.keys.serial and res.keys.macs and res.keys.hostname == res.name, res
        elif res.type.value == "contact":
            assert res.keys.email and "@" in res.keys.email, res
    serials = [r.keys.serial.strip().upper() for r in found if r.integration == RMM and r.keys.serial]
    real = [s for s in serials if s not in {p.upper() for p in ("To Be Filled By O.E.M.", "Default string",
                                                                "System Serial Number")}]
    assert len(real) == len(set(real)) > 0.8 * len(serials)  # a real serial names one machine


def test_macs_are_written_the_way_each_product_writes_them():
    found = _resources(DemoWorld(3_000, seed=5))
    rmm = [m for r in found if r.integration == RMM and r.type.value == "device" for m in r.keys.macs]
    psa = [m for r in found if r.integration == PSA and r.type.value == "device" for m in r.keys.macs]
    assert rmm and all(len(m) == 17 and m[2] == ":" and m == m.upper() for m in rmm)
    assert psa and all(len(m) == 14 and m[4] == "." for m in psa)
    records = [m for rec in _records(DemoWorld(3_000, seed=5)).values() for m in rec.keys.macs]
    assert records and all(m[2] == "-" for m in records)


def test_the_stories_are_all_told_and_each_as_the_docstring_says():
    world = DemoWorld(5_000)
    found = _resources(world)
    records = _records(DemoWorld(5_000))
    stories = {r.story for r in found}
    assert {"renamed", "replaced", "placeholder", "vpn", "display", "mailbox"} <= stories
    for res in found:
        record = records.get(res.record_id)
        if res.story == "renamed":
            # Matched on the serial (or, with a placeholder serial, the MAC) the record holds; the names differ.
            assert res.status.value == "matched" and record.name != res.name
            assert record.keys.serial == res.keys.serial or {_hex(m) for m in record.keys.macs} & {
                _hex(m) for m in res.keys.macs}
        elif res.story == "display":
            assert res.status.value == "matched" and record.name != res.name
            assert record.keys.email.lower() == res.keys.email
        elif res.story == "placeholder":
            assert res.keys.serial in ("To Be Filled By O.E.M.", "Default string", "System Serial Number")
            if record is not None and record.keys:
                assert record.keys.serial is None and record.keys.macs
    replaced = [r for r in found if r.story == "replaced"]
    old = [r for r in replaced if r.record_id is not None]
    new = [r for r in replaced if r.record_id is None]
    assert len(old) == len(new) > 0
    for before in old:
        after = next(r for r in new if r.name == before.name and r.client_id == before.client_id)
        assert before.deleted_remotely and not after.deleted_remotely
        assert after.status.value == "not_synced" and after.keys.serial != before.keys.serial
    mailboxes = [r for r in found if r.story == "mailbox"]
    assert any(r.name == "Front Desk" for r in mailboxes)
    by_mailbox: dict[tuple, int] = {}
    for res in mailboxes:
        by_mailbox[(res.client_id, res.keys.email)] = by_mailbox.get((res.client_id, res.keys.email), 0) + 1
    assert max(by_mailbox.values()) > 1  # a mailbox shared by several contacts is no one's identity
    assert sum(1 for r in found if r.keys.macs and VPN_MAC in r.keys.macs) > 1


def test_keys_do_not_change_the_names_and_fates_of_the_world_before_them():
    """The keys come from their own generator: the demo's names and fates are those the tests and
    the screens knew, except where a story changes them."""
    found = _resources(DemoWorld(2_000))
    names = {r.name for r in found}
    assert {"Acme Corporation, Inc.", "ACME-LT-023", "GLOBEX-LT-008"} <= names
