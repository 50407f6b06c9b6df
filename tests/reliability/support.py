"""What the reliability tests share: running syncview as a real process, and checking a store file.

Every run is a separate ``python -m syncview`` (or the pause-point :mod:`driver`), so
what is tested is what an operator's shell gets: real exit codes, real stderr, a real
SIGKILL, real SQLite files.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DRIVER = Path(__file__).with_name("driver.py")
#: Generous: two cores shared by the whole suite, and each process imports SQLAlchemy and httpx.
TIMEOUT = 90


@dataclass
class Ran:
    """A finished syncview process."""

    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    def error_line(self) -> str:
        """The one ``syncview: error:`` line a failure must print, checked to be alone and traceback-free."""
        assert self.code != 0, f"expected a failure of {self.args}, got exit 0:\n{self.stdout}"
        lines = [line for line in self.stderr.splitlines() if not line.startswith("syncview: warning: ")]
        assert "Traceback" not in self.stderr, self.stderr
        assert len(lines) == 1, f"expected one error line, got:\n{self.stderr}"
        assert lines[0].startswith("syncview: error: "), lines[0]
        return lines[0]

    def ok(self) -> Ran:
        assert self.code == 0, f"{self.args} exited {self.code}:\n{self.stdout}\n{self.stderr}"
        return self


def command(*args: str | Path, driver: bool = False) -> list[str]:
    launcher = [str(DRIVER)] if driver else ["-m", "syncview"]
    return [sys.executable, *launcher, *map(str, args)]


def environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The test's environment (isolated XDG dirs, operator "tester") plus ``extra``; no colour, no terminal."""
    env = {**os.environ, "NO_COLOR": "1", "TERM": "dumb", "COLUMNS": "200", **(extra or {})}
    env.pop("FORCE_COLOR", None)
    return env


def run(*args: str | Path, env: Mapping[str, str] | None = None, driver: bool = False,
        timeout: float = TIMEOUT, **popen) -> Ran:
    """Run syncview to the end; stdin is closed, as under cron."""
    done = subprocess.run(command(*args, driver=driver), env=environment(env), capture_output=True, text=True,
                          encoding="utf-8", errors="replace", stdin=subprocess.DEVNULL, timeout=timeout, **popen)
    return Ran(tuple(map(str, args)), done.returncode, done.stdout, done.stderr)


def _default_sigint() -> None:
    # A suite started as a background job of a non-interactive shell inherits SIGINT ignored,
    # and Python then leaves it ignored in the child: give the child Ctrl-C as a terminal would.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def spawn(*args: str | Path, env: Mapping[str, str] | None = None, driver: bool = False) -> subprocess.Popen:
    return subprocess.Popen(command(*args, driver=driver), env=environment(env), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8",
                            errors="replace", preexec_fn=_default_sigint)


def finish(process: subprocess.Popen, args: tuple[str, ...] = ()) -> Ran:
    stdout, stderr = process.communicate(timeout=TIMEOUT)
    return Ran(args, process.returncode, stdout, stderr)


def kill(process: subprocess.Popen) -> None:
    """SIGKILL, as the OOM killer or a pulled plug would, and reap it (its pid is then gone)."""
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=TIMEOUT)
    assert process.returncode == -signal.SIGKILL


def wait_for(condition: Callable[[], object], *, timeout: float = TIMEOUT, what: str = "condition",
             process: subprocess.Popen | None = None) -> object:
    """Poll until ``condition()`` is truthy; fail early if ``process`` ended meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if process is not None and process.poll() is not None:
            out, err = process.communicate()
            raise AssertionError(f"process ended ({process.returncode}) before {what}:\n{out}\n{err}")
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


# --------------------------------------------------------------------------- the store file


def query(path: Path | str, sql: str, *params) -> list[tuple]:
    """Rows straight from the file (or the PostgreSQL store a URL names), through a connection of its
    own (as a second process would)."""
    if isinstance(path, str):
        from tests.pg import pg_query

        return pg_query(path, sql, *params)
    with closing(sqlite3.connect(path, timeout=30)) as conn:
        return conn.execute(sql, params).fetchall()


def scalar(path: Path, sql: str, *params):
    return query(path, sql, *params)[0][0]


#: Tables holding operators' and syncs' data; ``content`` compares these.
DATA_TABLES = ("integration", "client", "record", "resource", "audit_event")


def content(path: Path, tables: tuple[str, ...] = DATA_TABLES) -> dict[str, list[tuple]]:
    """Every row of the data tables, to compare a store before and after something that must not change it."""
    return {table: query(path, f"SELECT * FROM {table} ORDER BY id") for table in tables}


def assert_consistent(path: Path) -> None:
    """What must hold of any store, whatever killed or raced whatever: SQLite's own integrity, and
    the domain's: one status each, matched exactly when linked, a record linked at most once per
    integration, audit events about existing resources. (On PostgreSQL the server keeps its own
    integrity and foreign keys, and the schema is made in one transaction: the domain's part.)"""
    if isinstance(path, str):
        pass
    else:
        assert query(path, "PRAGMA integrity_check") == [("ok",)]
        assert query(path, "PRAGMA foreign_key_check") == []
    if not isinstance(path, str) and query(path, "SELECT count(*) FROM sqlite_master") == [(0,)]:
        # Killed before the schema's one transaction committed (WAL is set first, so the file
        # exists): nothing is there, and nothing is half there; the next open creates it whole.
        assert query(path, "PRAGMA user_version") == [(0,)]
        return
    assert query(path, "SELECT count(*) FROM resource WHERE status NOT IN ('matched', 'not_synced', 'excluded')"
                 ) == [(0,)]
    assert query(path, "SELECT id, status, record_id FROM resource WHERE (status = 'matched') != "
                       "(record_id IS NOT NULL)") == []
    assert query(path, "SELECT integration_id, record_id, count(*) FROM resource WHERE record_id IS NOT NULL "
                       "GROUP BY integration_id, record_id HAVING count(*) > 1") == []
    assert query(path, "SELECT count(*) FROM audit_event a LEFT JOIN resource r ON r.id = a.resource_id "
                       "WHERE a.resource_id IS NOT NULL AND r.id IS NULL") == [(0,)]


# --------------------------------------------------------------------------- in-process runs


def invoke(*args: str | Path, env: Mapping[str, str] | None = None) -> Ran:
    """Run the CLI in this process (click's CliRunner): what the console script does, minus the start-up.

    For the many runs that need no separate process: the group's error handling is the
    same code path, and exceptions escaping it fail the test rather than being caught.
    """
    from click.testing import CliRunner

    from syncview.cli import cli

    result = CliRunner(env={"COLUMNS": "200", **(env or {})}).invoke(cli, list(map(str, args)),
                                                                   catch_exceptions=False)
    return Ran(tuple(map(str, args)), result.exit_code, result.stdout, result.stderr)


# --------------------------------------------------------------------------- a full disk, a free port


def cap_store_pages(path: Path) -> Callable[[], None]:
    """Make the store at ``path`` full for this process: no connection opened on it from now on may
    grow it past its present size (SQLite then fails the write with SQLITE_FULL, as on a full disk).

    ``PRAGMA max_page_count`` holds per connection, so it is set on every connection any engine
    opens on that file. Returns what lifts the cap (for connections opened after it).
    """
    from sqlalchemy import Engine, event

    pages = scalar(path, "PRAGMA page_count")

    def on_connect(dbapi_connection, _record) -> None:
        if dbapi_connection.execute("PRAGMA database_list").fetchone()[2] == str(path):
            dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    event.listen(Engine, "connect", on_connect)
    return lambda: event.remove(Engine, "connect", on_connect)


#: Sockets :func:`free_port` holds bound for as long as the test process lives.
_HELD: list[Any] = []


def free_port() -> int:
    """A loopback port with nothing listening: a connection is refused.

    The port stays bound (never listening) until the test process ends: closed at once, the
    OS could hand it to a server another test starts meanwhile (the suite runs in parallel),
    and "nothing listening" would no longer hold.
    """
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    _HELD.append(sock)
    port: int = sock.getsockname()[1]
    return port
