"""Two operators, one store: separate syncview processes on the same file.

- No lost update: an action carrying the version its operator read is refused, naming
  who changed the resource and when, if another process changed it since.
- A sync and an operator at once: both changes land (the operator's exclusion survives
  the sync, the sync's new resources arrive), whether the operator acts between two of
  the sync's pages or while a page's write transaction holds the lock.
- A lock held too long is waited for, then reported in one line.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from contextlib import closing

import pytest

from tests.connectors.fakes.halopsa import FakeHaloPsa
from tests.reliability.conftest import ENGINES, HALO_SECRET, HALO_SECRET_VAR, halo_config
from tests.reliability.support import assert_consistent, finish, query, run, scalar, spawn, wait_for

pytestmark = pytest.mark.slow

CHANGED = re.compile(r"was changed by bob at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC; reload and try again$")


def version_of(db, resource_id: int, operator: str = "alice") -> int:
    """The version an operator's screen or script read (through the CLI, as a script would)."""
    listed = json.loads(run("--db", db, "resources", "--json", "--limit", "10000",
                            env={"SYNCVIEW_OPERATOR": operator}).ok().stdout)
    return next(r["version"] for r in listed["resources"] if r["id"] == resource_id)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("action", ["exclude", "rematch", "include"])
def test_the_second_action_on_a_changed_resource_is_refused_naming_who_and_when(demo_db, action):
    if action == "include":
        [(resource_id,)] = query(demo_db, "SELECT id FROM resource WHERE status = 'excluded' LIMIT 1")
        bobs = ("include", str(resource_id))
    else:
        [(resource_id, rtype, client)] = query(
            demo_db, "SELECT id, type, client_id FROM resource WHERE status = 'matched' LIMIT 1")
        bobs = ("exclude", str(resource_id))
    seen = version_of(demo_db, resource_id)

    run("--db", demo_db, *bobs, env={"SYNCVIEW_OPERATOR": "bob"}).ok()  # bob, in another process, first
    after_bob = query(demo_db, "SELECT status, record_id, version FROM resource WHERE id = ?", resource_id)

    args = {"exclude": ("exclude", str(resource_id)), "include": ("include", str(resource_id))}.get(action)
    if action == "rematch":
        # Any record of its type: the version is checked before anything else about the re-match.
        [(record_id,)] = query(demo_db, "SELECT id FROM record WHERE type = ? ORDER BY id DESC LIMIT 1", rtype)
        args = ("rematch", str(resource_id), str(record_id))
    alice = run("--db", demo_db, *args, "--expect-version", str(seen), env={"SYNCVIEW_OPERATOR": "alice"})

    line = alice.error_line()
    assert alice.code == 1 and CHANGED.search(line), line
    assert query(demo_db, "SELECT status, record_id, version FROM resource WHERE id = ?", resource_id) == after_bob
    assert query(demo_db, "SELECT operator FROM audit_event WHERE resource_id = ? ORDER BY id DESC LIMIT 1",
                 resource_id) == [("bob",)]


# --- a sync and an operator at once -----------------------------------------------------------

class Gate:
    """Holds one request of a fake server until released, so a sync stops exactly there."""

    def __init__(self, app, path: str, page: str) -> None:
        self.app, self.path, self.page = app, path, page
        self.reached, self.release = threading.Event(), threading.Event()

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == self.path and f"page_no={self.page}" in environ.get("QUERY_STRING", ""):
            self.reached.set()
            self.release.wait(60)
        return self.app(environ, start_response)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_sync_and_an_operator_acting_between_its_pages_both_keep_their_changes(empty_db, serve, write_config):
    fake = FakeHaloPsa(clients=3, assets_per_client=4, users_per_client=1)
    gate = Gate(fake, "/api/Asset", page="2")
    config = write_config(halo_config(serve(gate), extra="create_missing = true\n"))
    db = empty_db
    env = {HALO_SECRET_VAR: HALO_SECRET}
    gate.release.set()
    run("--db", db, "--config", config, "sync", "Halo", env=env).ok()  # everything known, matched
    # The product grows: a client with its site, assets and user, seen only by the next sync.
    fake.records = {key: [] for key in fake.records}
    fake.build(clients=4, assets=4, users=1)
    last_asset = fake.records["assets"][-5]["id"]  # an asset of client 3: on a page after the gate
    [(resource_id, version)] = query(db, "SELECT id, version FROM resource WHERE type = 'device' AND "
                                         "external_id = ?", str(last_asset))
    gate.release.clear()

    syncing = spawn("--db", db, "--config", config, "sync", "Halo", env=env)
    assert gate.reached.wait(60), finish(syncing).stderr
    # The sync has committed its first asset page and waits for the second: bob acts now.
    run("--db", db, "exclude", str(resource_id), "--disable-record", "--expect-version", str(version),
        env={"SYNCVIEW_OPERATOR": "bob"}).ok()
    gate.release.set()
    finish(syncing).ok()

    assert query(db, "SELECT status, record_id, updated_by FROM resource WHERE id = ?", resource_id) == [
        ("excluded", None, "bob")]
    assert scalar(db, "SELECT count(*) FROM resource") == fake.item_count()  # the new client's items landed
    assert scalar(db, "SELECT count(*) FROM resource WHERE status = 'matched'") == fake.item_count() - 1
    assert query(db, "SELECT outcome FROM syncrun ORDER BY id") == [("success",), ("success",)]
    assert_consistent(db)


@pytest.mark.parametrize("engine", ENGINES)
def test_an_operator_acting_while_a_sync_holds_the_write_lock_waits_then_both_land(tmp_path, empty_db, write_config):
    config = write_config('[[integrations]]\nname = "Demo PSA"\nkind = "demo"\nresources = 2000\n'
                          'create_missing = true\n')
    db = empty_db
    env = {"SYNCVIEW_TEST_DEMO_PAGE_SIZE": "100"}
    run("--db", db, "--config", config, "sync", "Demo PSA", env=env, driver=True).ok()
    [(resource_id,)] = query(db, "SELECT id FROM resource ORDER BY id DESC LIMIT 1")
    marker, resume = tmp_path / "paused", tmp_path / "resume"
    syncing = spawn("--db", db, "--config", config, "sync", "Demo PSA", driver=True, env={
        **env, "SYNCVIEW_TEST_PAUSE": "syncview.services.sync:_RunState.apply", "SYNCVIEW_TEST_PAUSE_CALL": "2",
        "SYNCVIEW_TEST_MARKER": str(marker), "SYNCVIEW_TEST_RESUME": str(resume)})
    wait_for(marker.exists, what="the sync to pause inside page 2", process=syncing)

    # Page 2's transaction holds the write lock: bob's exclude must wait for it, not fail.
    acting = spawn("--db", db, "exclude", str(resource_id), env={"SYNCVIEW_OPERATOR": "bob"})
    time.sleep(1.5)
    assert acting.poll() is None, finish(acting).stderr  # still waiting on the lock
    resume.touch()
    finish(acting).ok()
    finish(syncing).ok()

    assert query(db, "SELECT status, record_id, updated_by FROM resource WHERE id = ?", resource_id) == [
        ("excluded", None, "bob")]
    assert query(db, "SELECT outcome FROM syncrun ORDER BY id") == [("success",), ("success",)]
    assert_consistent(db)


def test_a_lock_held_past_the_busy_timeout_is_reported_in_one_line(demo_db, write_config):
    config = write_config('[[integrations]]\nname = "Demo PSA"\nkind = "demo"\nresources = 400\n')
    [(resource_id,)] = query(demo_db, "SELECT id FROM resource WHERE status = 'matched' LIMIT 1")
    before = query(demo_db, "SELECT * FROM resource ORDER BY id")
    with closing(sqlite3.connect(demo_db, isolation_level=None)) as holder:
        holder.execute("BEGIN IMMEDIATE")  # another process's long write transaction
        started = time.monotonic()
        acting = spawn("--db", demo_db, "exclude", str(resource_id))
        syncing = spawn("--db", demo_db, "--config", config, "sync", "Demo PSA")
        excluded, synced = finish(acting), finish(syncing)
        waited = time.monotonic() - started
        holder.execute("ROLLBACK")
    assert waited >= 5.0  # the busy timeout was honoured, not skipped
    for result in (excluded, synced):
        line = result.error_line()
        assert result.code == 1
        assert f"the store {demo_db} is locked by another syncview process (waited 5 s); try again when it has " \
               "finished" in line, line
    assert query(demo_db, "SELECT * FROM resource ORDER BY id") == before
    assert_consistent(demo_db)
