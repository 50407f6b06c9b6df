"""A team on one PostgreSQL store: two operators and a sync, each a separate syncview process.

- A stale write is refused across processes, naming who changed the resource and when.
- The sync lock holds across processes (and machines): a second sync is refused naming the run,
  process and host that hold it; the server lets go of the lock of a killed sync, and the next
  sync closes that run as interrupted. A run marked running by another machine counts as alive
  exactly while its lock is held.
- A sync and an operator at once both keep their changes: test_concurrency.py, on both engines.
"""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest
from datetime import UTC, datetime

from sqlalchemy import insert, text

from syncview.store import open_store
from syncview.store.models import sync_run_table
from tests.reliability.support import kill, run, spawn, wait_for

pytestmark = pytest.mark.slow

CHANGED = re.compile(r"was changed by bob at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC; reload and try again$")
DEMO = '[[integrations]]\nname = "Demo PSA"\nkind = "demo"\nresources = 2000\ncreate_missing = true\n'


@pytest.fixture
def pg_db(pg_server):
    url = pg_server.create()
    yield url
    pg_server.drop(url)


def _query(url: str, sql: str, **params) -> list[tuple]:
    store = open_store(url)
    try:
        with store.read() as conn:
            return [tuple(row) for row in conn.execute(text(sql), params)]
    finally:
        store.close()


def test_two_operators_on_one_postgresql_store_a_stale_write_is_refused_naming_who_and_when(pg_db, write_config):
    config = write_config(DEMO)
    run("--db", pg_db, "--config", config, "sync", "Demo PSA").ok()
    listed = json.loads(run("--db", pg_db, "resources", "--json", "--limit", "50").ok().stdout)["resources"]
    target = next(r for r in listed if r["status"] == "matched")

    run("--db", pg_db, "exclude", str(target["id"]), env={"SYNCVIEW_OPERATOR": "bob"}).ok()
    alice = run("--db", pg_db, "include", str(target["id"]), "--expect-version", str(target["version"]),
                env={"SYNCVIEW_OPERATOR": "alice"})
    assert alice.code == 1 and CHANGED.search(alice.error_line()), alice.stderr
    assert _query(pg_db, "SELECT status, updated_by FROM resource WHERE id = :i", i=target["id"]) == [
        ("excluded", "bob")]


def test_the_sync_lock_holds_across_processes_and_a_killed_syncs_lock_is_let_go(pg_db, write_config, tmp_path):
    config = write_config(DEMO)
    env = {"SYNCVIEW_TEST_DEMO_PAGE_SIZE": "100"}
    run("--db", pg_db, "--config", config, "sync", "Demo PSA", env=env, driver=True).ok()
    marker, resume = tmp_path / "paused", tmp_path / "resume"
    # Paused between two pages (after page 1's commit): holding its sync lock, no write transaction.
    first = spawn("--db", pg_db, "--config", config, "sync", "Demo PSA", driver=True, env={
        **env, "SYNCVIEW_TEST_PAUSE": "syncview.services.sync:_report", "SYNCVIEW_TEST_PAUSE_CALL": "2",
        "SYNCVIEW_TEST_MARKER": str(marker), "SYNCVIEW_TEST_RESUME": str(resume)})
    wait_for(marker.exists, what="the first sync to pause after page 1", process=first)
    [(run_id,)] = _query(pg_db, "SELECT id FROM syncrun WHERE outcome = 'running'")

    second = run("--db", pg_db, "--config", config, "sync", "Demo PSA")
    line = second.error_line()
    assert f"Demo PSA is already being synced (run {run_id}, process {first.pid} on {socket.gethostname()})" \
        in line, line

    checks = json.loads(run("--db", pg_db, "doctor", "--offline", "--json").stdout)["checks"]
    messages = [c["message"] for c in checks if c["area"] == "store"]
    assert f"syncs running now, from any machine: Demo PSA (run {run_id}, in process {first.pid} on " \
           f"{socket.gethostname()})" in messages, messages
    assert any(m.startswith("the user postgres may read and change it") for m in messages)
    assert any("page integrity, disk space and the write-ahead log are the server's" in m for m in messages)

    kill(first)  # SIGKILL: its session ends, and the server lets go of its lock
    run("--db", pg_db, "--config", config, "sync", "Demo PSA").ok()
    outcomes = dict(_query(pg_db, "SELECT id, outcome FROM syncrun"))
    assert outcomes[run_id] == "failed" and list(outcomes.values()).count("success") == 2


def test_a_run_another_machine_marks_running_is_alive_exactly_while_its_lock_is_held(pg_db, write_config):
    from syncview.store.locks import try_sync_lock

    config = write_config(DEMO)
    run("--db", pg_db, "--config", config, "sync", "Demo PSA").ok()
    [(integration_id,)] = _query(pg_db, "SELECT id FROM integration WHERE name = 'Demo PSA'")
    store = open_store(pg_db)
    try:
        with store.write() as conn:  # that machine's sync, as it records its run
            run_id = conn.execute(insert(sync_run_table).values(
                integration_id=integration_id, started_at=datetime.now(UTC), outcome="running",
                message="running in process 4242 on far-away-host")).inserted_primary_key[0]
        held = try_sync_lock(store, integration_id)  # that machine's sync, holding its lock
        assert held is not None
        refused = run("--db", pg_db, "--config", config, "sync", "Demo PSA")
        assert f"(run {run_id}, process 4242 on far-away-host)" in refused.error_line()
        run("--db", pg_db, "status").ok()  # opening a screen or a status elsewhere does not close it
        assert _query(pg_db, "SELECT outcome FROM syncrun WHERE id = :r", r=run_id) == [("running",)]
        held.release()  # that machine went away
        run("--db", pg_db, "--config", config, "sync", "Demo PSA").ok()
        assert _query(pg_db, "SELECT outcome FROM syncrun WHERE id = :r", r=run_id) == [("failed",)]
    finally:
        store.close()


# --- backup, replay and restore on a PostgreSQL store --------------------------------------------

@pytest.mark.parametrize("engine", ["postgresql"])
def test_a_postgresql_store_goes_on_the_road_as_sqlite_and_its_actions_come_back(demo_db, tmp_path):
    url = str(demo_db)
    laptop = tmp_path / "laptop.db"
    said = run("--db", url, "backup", str(laptop)).ok().stdout
    assert "to the SQLite store" in said and f"syncview replay {laptop}" in " ".join(said.split())
    listed = json.loads(run("--db", laptop, "resources", "--json", "--limit", "50").ok().stdout)["resources"]
    mine, theirs = [r for r in listed if r["status"] == "matched"][:2]
    run("--db", laptop, "exclude", str(mine["id"]), env={"SYNCVIEW_OPERATOR": "alice"}).ok()  # offline
    run("--db", laptop, "exclude", str(theirs["id"]), env={"SYNCVIEW_OPERATOR": "alice"}).ok()
    run("--db", url, "exclude", str(theirs["id"]), "--disable-record", env={"SYNCVIEW_OPERATOR": "bob"}).ok()

    replayed = run("--db", url, "replay", str(laptop))
    assert replayed.code == 1
    assert replayed.stdout.splitlines()[-1] == "1 action replayed, 1 conflict, 0 already in this store"
    assert "changed by bob at" in replayed.stdout
    assert _query(url, "SELECT status, updated_by FROM resource WHERE id = :i", i=mine["id"]) == [
        ("excluded", "alice")]
    assert run("--db", url, "replay", str(laptop)).stdout.splitlines()[-1] == \
        "0 actions replayed, 1 conflict, 1 already in this store"

    # Restore the laptop's copy over the team store: its rows, in one transaction, the previous kept.
    restored = run("--db", url, "restore", str(laptop)).ok().stdout
    previous = Path(re.search(r"saved as the SQLite store (\S+\.bak)", " ".join(restored.split()))[1])
    assert _query(url, "SELECT status, updated_by FROM resource WHERE id = :i", i=theirs["id"]) == [
        ("excluded", "alice")]
    kept = json.loads(run("--db", previous, "resources", "--json", "--limit", "50").ok().stdout)["resources"]
    assert next(r for r in kept if r["id"] == theirs["id"])["status"] == "excluded"
    run("--db", url, "doctor", "--offline").ok()
