"""SIGTERM and SIGHUP end syncview as Ctrl-C does: real processes, real signals.

The CLI is paused at an exact point (the test driver, see driver.py) and signalled there; the
screen runs on a pseudo-terminal and is signalled once it has painted.
"""

from __future__ import annotations

import os
import pty
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.test_terminal import _read_until
from tests.reliability.support import (
    assert_consistent,
    command,
    environment,
    finish,
    kill,
    query,
    run,
    spawn,
    wait_for,
)

pytestmark = pytest.mark.slow

CONFIG = """\
[[integrations]]
name = "Demo"
kind = "demo"
flavour = "rmm"
resources = 400
seed = 3
"""


def _paused(tmp_path: Path, *args: str, pause: str, call: int = 1, when: str = "after", env=None):
    """syncview ``args`` started under the driver and paused at ``pause``; returns the process."""
    marker = tmp_path / "paused"
    process = spawn(*args, driver=True, env={
        "SYNCVIEW_TEST_DEMO_PAGE_SIZE": "20", "SYNCVIEW_TEST_PAUSE": pause, "SYNCVIEW_TEST_PAUSE_CALL": str(call),
        "SYNCVIEW_TEST_PAUSE_WHEN": when, "SYNCVIEW_TEST_MARKER": str(marker), **(env or {})})
    wait_for(marker.exists, what=f"the pause at {pause}", process=process)
    return process


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signalled_sync_is_recorded_as_interrupted_not_running(tmp_path, signum):
    config = tmp_path / "config.toml"
    config.write_text(CONFIG, encoding="utf-8")
    config.chmod(0o600)
    db = tmp_path / "store.db"
    run("--db", db, "--config", config, "status").ok()  # a store of the operator's (a fresh one is removed)
    process = _paused(tmp_path, "--db", db, "--config", config, "sync", "Demo",
                      pause="syncview.services.sync:_report", call=3)
    process.send_signal(signum)
    ran = finish(process)
    name = signal.Signals(signum).name
    assert ran.code == 130, ran.stderr
    # (after Ctrl-C, rich-click first ends the "^C" line the terminal echoed: a blank line)
    assert [line for line in ran.stderr.splitlines() if line] == [
        f"syncview: error: interrupted ({name})" if signum != signal.SIGINT else "syncview: error: interrupted"]
    (outcome, message), = query(db, "SELECT outcome, message FROM syncrun")
    assert outcome == "partial"
    by = name if signum != signal.SIGINT else "the operator"
    assert message == f"Demo: interrupted by {by} (stopped after 2 pages; the next run completes it)"
    assert_consistent(db)


@pytest.fixture
def demo_db(tmp_path, _demo_template) -> Path:
    """A copy of the session's demo store, on SQLite only (signals do not depend on the engine)."""
    db = tmp_path / "demo.db"
    shutil.copyfile(_demo_template, db)
    return db


def test_a_signalled_export_leaves_no_partial_file(tmp_path, demo_db):
    out = tmp_path / "export.csv"
    process = _paused(tmp_path, "--db", demo_db, "export", "--format", "csv", "-o", out,
                      pause="syncview.render:resource_record", call=500)
    assert (tmp_path / "export.csv.partial").exists()
    process.send_signal(signal.SIGTERM)
    ran = finish(process)
    assert ran.code == 130 and ran.error_line() == "syncview: error: interrupted (SIGTERM)"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("export")) == []


def test_a_signalled_backup_leaves_no_partial_file(tmp_path, demo_db):
    target = tmp_path / "monday.db"
    process = _paused(tmp_path, "--db", demo_db, "backup", target,
                      pause="syncview.services.backup:inspect_store", call=2, when="before")
    assert (tmp_path / "monday.db.partial").exists()
    process.send_signal(signal.SIGTERM)
    ran = finish(process)
    assert ran.code == 130 and ran.error_line() == "syncview: error: interrupted (SIGTERM)"
    assert not any(p.name.startswith("monday.db") for p in tmp_path.iterdir())


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_the_screen_gives_the_terminal_back_on_sigterm_and_sighup(tmp_path, demo_db, signum):
    env = {**environment(), "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "30"}
    controller, terminal = pty.openpty()
    child = subprocess.Popen([sys.executable, "-m", "syncview", "--db", str(demo_db)], stdin=terminal,
                             stdout=terminal, stderr=terminal, env=env, close_fds=True, start_new_session=True)
    os.close(terminal)
    try:
        shown = _read_until(controller, b"Sync status", timeout=60)
        assert b"\x1b[?1049h" in shown and b"\x1b[?1000h" in shown  # alternate screen, mouse tracking
        child.send_signal(signum)
        after = _read_until(controller, b"\x1b[?1049l", timeout=30)  # the alternate screen is left
        after = _read_until(controller, b"interrupted", timeout=30, seen=after)
        assert b"\x1b[?1000l" in after  # mouse tracking off
        assert child.wait(timeout=30) == 130
        assert f"syncview: error: interrupted ({signal.Signals(signum).name})".encode() in after
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        os.close(controller)


def test_a_sync_killed_outright_reads_as_interrupted_from_the_next_status(tmp_path):
    """SIGKILL cannot be caught: the next look at the store (not only the next sync) closes the run."""
    config = tmp_path / "config.toml"
    config.write_text(CONFIG, encoding="utf-8")
    config.chmod(0o600)
    db = tmp_path / "store.db"
    run("--db", db, "--config", config, "status").ok()
    process = _paused(tmp_path, "--db", db, "--config", config, "sync", "Demo",
                      pause="syncview.services.sync:_report", call=3)
    kill(process)
    assert query(db, "SELECT outcome FROM syncrun") == [("running",)]
    run("--db", db, "--config", config, "status").ok()
    (outcome, message), = query(db, "SELECT outcome, message FROM syncrun")
    assert outcome == "failed" and message.startswith("interrupted (process ")


@pytest.mark.parametrize("args", [("export", "--format", "csv"), ("export", "--format", "json"), ("resources",)])
def test_a_reader_that_goes_away_ends_the_command_well(demo_db, args):
    """``syncview export | head -1``: the line is printed, and syncview ends with 0 and no message."""
    script = f"{' '.join(map(str, command('--db', demo_db, *args)))} | head -1; echo \"status ${{PIPESTATUS[0]}}\""
    done = subprocess.run(["bash", "-c", script], env=environment(), capture_output=True, text=True, timeout=90)
    first, status = done.stdout.splitlines()
    assert first.strip().startswith(("id,integration_id,type", "[", "Id "))
    assert status == "status 0" and done.stderr == ""
