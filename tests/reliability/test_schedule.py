"""``syncview sync --every`` as a long-running process, and the one-sync-at-a-time lock between processes."""

from __future__ import annotations

import signal

import pytest

from tests.connectors.fakes.halopsa import FakeHaloPsa
from tests.reliability.conftest import HALO_SECRET, HALO_SECRET_VAR, halo_config
from tests.reliability.support import assert_consistent, finish, query, run, scalar, spawn, wait_for

pytestmark = pytest.mark.slow

ENV = {HALO_SECRET_VAR: HALO_SECRET}
DEMO = '[[integrations]]\nname = "Demo PSA"\nkind = "demo"\nflavour = "psa"\nresources = 200\n'


def runs(db, outcome: str | None = None) -> int:
    try:
        if outcome is None:
            return scalar(db, "SELECT count(*) FROM syncrun")
        return scalar(db, "SELECT count(*) FROM syncrun WHERE outcome = ?", outcome)
    except Exception:  # the store is not made yet
        return 0


def test_every_syncs_again_at_each_interval_until_sigterm(tmp_path, write_config):
    config, db = write_config(DEMO), tmp_path / "store.db"
    process = spawn("--db", db, "--config", config, "sync", "Demo PSA", "--every", "1s")
    wait_for(lambda: runs(db, "success") >= 3, what="three scheduled syncs", process=process)
    process.send_signal(signal.SIGTERM)
    done = finish(process)
    assert done.code == 130, done.stderr  # ended as an interrupted command, not killed
    assert done.stdout.count("next sync in 1s") >= 2  # the third may be stopped before it says so
    assert query(db, "SELECT count(*) FROM syncrun WHERE outcome = 'running'") == [(0,)]
    assert_consistent(db)


def test_every_refuses_an_interval_it_cannot_read(tmp_path, write_config):
    done = run("--db", tmp_path / "s.db", "--config", write_config(DEMO), "sync", "Demo PSA", "--every", "often")
    assert done.code == 2 and "--every takes an interval such as 30m, 3h or 1d, got 'often'" in done.stderr


def test_a_second_sync_of_one_integration_says_who_holds_it_or_waits_for_it(tmp_path, serve, write_config):
    fake = FakeHaloPsa(clients=10, assets_per_client=3, users_per_client=2)
    # One request at a time and slow while the others start (the first sync would take about 45 s;
    # a loaded machine takes seconds to start each process), then fast once they have said their part.
    fake.latency = 3.0
    config, db = write_config(halo_config(serve(fake), extra="concurrency = 1\n")), tmp_path / "store.db"
    first = spawn("--db", db, "--config", config, "sync", "Halo", env=ENV)
    wait_for(lambda: runs(db, "running"), what="the first sync to start", process=first)

    second = run("--db", db, "--config", config, "sync", "Halo", env=ENV)
    assert second.code == 1
    assert second.error_line() == (f"syncview: error: Halo is already being synced (run 1, process {first.pid}); "
                                 "wait for it to finish")
    # ...and the reason is logged where the screen's sync logs show it.
    assert query(db, "SELECT level, sync_run_id FROM sync_log_entry WHERE message LIKE '%not started%'") == [
        ("error", None)]

    waiting = spawn("--db", db, "--config", config, "sync", "Halo", "--wait", env=ENV)
    said = ""  # what it says while the first sync still runs, up to its waiting line
    while "waiting" not in said and (line := waiting.stdout.readline()):
        said += line
    fake.latency = 0.0
    assert "Halo: waiting: Halo is already being synced" in said
    done = finish(waiting)
    assert done.code == 0, done.stderr
    assert finish(first).code == 0
    assert query(db, "SELECT outcome FROM syncrun ORDER BY id") == [("success",), ("success",)]
    assert_consistent(db)
