"""Crash safety: a sync or an action killed with SIGKILL at any point leaves the store consistent,
and the next sync completes the interrupted run.

The kill points are exact, not timed: the :mod:`driver` launcher pauses the real CLI inside
the sync engine or an action (after a page's rows are written but before they commit, after
a commit, inside the final transaction...), the test waits for the pause and sends SIGKILL.
A last test adds kills at spread-out moments of an unpaused run, for the points nobody named.
"""

from __future__ import annotations

import re

import pytest

from tests.reliability.support import (
    assert_consistent,
    content,
    kill,
    query,
    run,
    scalar,
    spawn,
    wait_for,
)

pytestmark = pytest.mark.slow

NAME = "Demo PSA"
PAGE = 80
CONFIG = f"""
[[integrations]]
name = "{NAME}"
kind = "demo"
flavour = "psa"
resources = 2000
create_missing = true
"""


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    path = tmp_path_factory.mktemp("crash") / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    path.chmod(0o600)
    return path


@pytest.fixture(scope="module")
def expected(config, tmp_path_factory) -> int:
    """How many resources a complete sync of the integration stores (from an untouched run)."""
    db = tmp_path_factory.mktemp("reference") / "reference.db"
    run("--db", db, "--config", config, "sync", NAME, env={"SYNCVIEW_TEST_DEMO_PAGE_SIZE": str(PAGE)},
        driver=True).ok()
    return scalar(db, "SELECT count(*) FROM resource")


@pytest.fixture
def setup(tmp_path, config):
    return tmp_path / "store.db", config


def killed_sync(db, config, tmp_path, pause: str, call: int, when: str = "after") -> None:
    """Start a sync, let it reach ``pause`` for the ``call``-th time, SIGKILL it there."""
    marker = tmp_path / "paused"
    marker.unlink(missing_ok=True)
    process = spawn("--db", db, "--config", config, "sync", NAME, driver=True, env={
        "SYNCVIEW_TEST_DEMO_PAGE_SIZE": str(PAGE), "SYNCVIEW_TEST_PAUSE": pause,
        "SYNCVIEW_TEST_PAUSE_CALL": str(call), "SYNCVIEW_TEST_PAUSE_WHEN": when,
        "SYNCVIEW_TEST_MARKER": str(marker)})
    wait_for(marker.exists, what=f"the pause at {pause} #{call}", process=process)
    kill(process)


def assert_next_sync_completes(db, config, expected: int) -> None:
    """The run the kill left "running" is closed as interrupted; a new one fetches everything."""
    run("--db", db, "--config", config, "sync", NAME, env={"SYNCVIEW_TEST_DEMO_PAGE_SIZE": str(PAGE)},
        driver=True).ok()
    runs = query(db, "SELECT outcome, fetched, message FROM syncrun ORDER BY id")
    assert [r[0] for r in runs] == ["failed", "success"], runs
    assert re.fullmatch(r"interrupted \(process \d+ ended before it finished\); the next run completes it",
                        runs[0][2])
    assert runs[1][1] == expected
    assert scalar(db, "SELECT count(*) FROM resource") == expected
    assert scalar(db, "SELECT count(*) FROM resource WHERE status != 'matched'") == 0  # create_missing
    assert_consistent(db)


# (where the CLI is paused, which call, before/after it, pages committed when killed)
SYNC_KILL_POINTS = [
    # The run row committed, nothing fetched yet (the first progress report follows the start).
    ("syncview.services.sync:_report", 1, "after", 0),
    # Page 3's rows written in its open transaction, not committed: pages 1-2 only survive.
    ("syncview.services.sync:_RunState.apply", 3, "after", 2),
    # Page 4 committed and reported; the connector is about to fetch page 5.
    ("syncview.services.sync:_report", 5, "after", 4),
    # Every page committed; the closing transaction (removed-remotely, outcome) written, not committed.
    ("syncview.services.sync:_RunState.finish", 1, "after", None),
]


@pytest.mark.parametrize(("pause", "call", "when", "pages"), SYNC_KILL_POINTS,
                         ids=["after-start", "inside-page-3", "after-page-4", "inside-finish"])
def test_a_sync_killed_keeps_whole_pages_and_the_next_sync_completes_it(tmp_path, setup, expected, pause, call,
                                                                       when, pages):
    db, config = setup
    assert expected > 5 * PAGE  # enough pages for every kill point

    killed_sync(db, config, tmp_path, pause, call, when)

    assert_consistent(db)
    [(outcome, fetched)] = query(db, "SELECT outcome, fetched FROM syncrun")
    assert outcome == "running"  # as the process left it; the next start closes it
    committed = expected if pages is None else pages * PAGE
    # Whole pages or nothing: the run's own count and the rows agree, page by page.
    assert fetched == committed
    assert scalar(db, "SELECT count(*) FROM resource") == committed
    assert_next_sync_completes(db, config, expected)


def test_a_resync_killed_mid_page_loses_no_earlier_decision(tmp_path, setup):
    """Kill a second sync inside a page: the operator's exclusion made between the runs stays."""
    db, config = setup
    run("--db", db, "--config", config, "sync", NAME, env={"SYNCVIEW_TEST_DEMO_PAGE_SIZE": str(PAGE)},
        driver=True).ok()
    [(resource_id,)] = query(db, "SELECT id FROM resource ORDER BY id LIMIT 1 OFFSET 500")
    run("--db", db, "exclude", str(resource_id)).ok()
    before = content(db, ("client", "record", "audit_event"))

    killed_sync(db, config, tmp_path, "syncview.services.sync:_RunState.apply", 7)  # its page

    assert_consistent(db)
    assert query(db, "SELECT status, record_id FROM resource WHERE id = ?", resource_id) == [("excluded", None)]
    assert content(db, ("client", "record", "audit_event")) == before  # a re-sync found everything known
    run("--db", db, "--config", config, "sync", NAME, env={"SYNCVIEW_TEST_DEMO_PAGE_SIZE": str(PAGE)},
        driver=True).ok()
    assert query(db, "SELECT outcome FROM syncrun ORDER BY id") == [("success",), ("failed",), ("success",)]
    assert query(db, "SELECT status, record_id FROM resource WHERE id = ?", resource_id) == [("excluded", None)]
    assert_consistent(db)


# --- actions ------------------------------------------------------------------------------------

def _resource(db, status: str) -> tuple[int, int, int | None]:
    return query(db, "SELECT id, version, record_id FROM resource WHERE status = ? ORDER BY id LIMIT 1", status)[0]


def killed_action(db, tmp_path, pause: str, *args: str, when: str = "after") -> None:
    marker = tmp_path / "paused"
    process = spawn("--db", db, *args, driver=True, env={
        "SYNCVIEW_TEST_PAUSE": pause, "SYNCVIEW_TEST_PAUSE_WHEN": when, "SYNCVIEW_TEST_MARKER": str(marker)})
    wait_for(marker.exists, what=f"the pause at {pause}", process=process)
    kill(process)


def test_an_exclude_killed_before_its_commit_leaves_no_trace(demo_db, tmp_path):
    resource_id, version, record_id = _resource(demo_db, "matched")
    before = content(demo_db, ("resource", "record", "audit_event", "sync_log_entry"))

    # Paused once the resource, its record, the audit event and the log line are written, uncommitted.
    killed_action(demo_db, tmp_path, "syncview.services.actions:_Batch.apply", "exclude", str(resource_id),
                  "--disable-record")

    assert_consistent(demo_db)
    assert content(demo_db, ("resource", "record", "audit_event", "sync_log_entry")) == before


def test_an_exclude_killed_after_its_commit_is_whole(demo_db, tmp_path):
    resource_id, version, record_id = _resource(demo_db, "matched")
    audits = scalar(demo_db, "SELECT count(*) FROM audit_event")

    # Paused in the CLI's report, after the action's transaction committed.
    killed_action(demo_db, tmp_path, "syncview.cli:_report", "exclude", str(resource_id), "--disable-record",
                  when="before")

    assert_consistent(demo_db)
    assert query(demo_db, "SELECT status, record_id, version, updated_by FROM resource WHERE id = ?",
                 resource_id) == [("excluded", None, version + 1, "tester")]
    assert query(demo_db, "SELECT disabled FROM record WHERE id = ?", record_id) == [(1,)]
    assert scalar(demo_db, "SELECT count(*) FROM audit_event") == audits + 1
    run("--db", demo_db, "undo").ok()  # the audit trail is whole enough to undo it
    assert query(demo_db, "SELECT status, record_id FROM resource WHERE id = ?", resource_id) == [
        ("matched", record_id)]


# --- kills at moments nobody chose --------------------------------------------------------------

@pytest.mark.parametrize("delay", [0.9, 1.6, 2.4])
def test_kills_at_arbitrary_moments_of_a_sync_leave_a_consistent_store(tmp_path, setup, expected, delay):
    """SIGKILL after a delay, wherever the run is then (opening, mid-page, committing,
    checkpointing the WAL, or already done): the store is consistent, and the next sync is whole."""
    import time

    db, config = setup
    process = spawn("--db", db, "--config", config, "sync", NAME, driver=True,
                    env={"SYNCVIEW_TEST_DEMO_PAGE_SIZE": "40"})
    time.sleep(delay)
    if process.poll() is None:
        kill(process)
    else:
        process.communicate()
    if db.exists():
        assert_consistent(db)
        fetched = query(db, "SELECT fetched FROM syncrun")
        if fetched:
            assert scalar(db, "SELECT count(*) FROM resource") == fetched[0][0]
    run("--db", db, "--config", config, "sync", NAME).ok()
    assert scalar(db, "SELECT count(*) FROM resource") == expected
    assert query(db, "SELECT outcome FROM syncrun ORDER BY id DESC LIMIT 1") == [("success",)]
    assert_consistent(db)
