"""Fixtures for the CLI tests: a seeded store per test (an SQLite file, or a PostgreSQL database:
the ``engine`` fixture), and runners that check the exit contract.

``query``, ``execute`` and ``snapshot`` read and write either engine with SQLite-spelt SQL (see
syncview.store.dialect); times read back as SQLite holds them (text), whatever the engine."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from syncview.cli import cli
from tests.pg import pg_execute, pg_query, pg_snapshot


@pytest.fixture
def db(demo_db):
    """A demo store this test may change: a file (Path) or a PostgreSQL URL (str)."""
    return demo_db


@dataclass
class Cli:
    """Runs syncview in-process on one store and checks the exit contract."""

    db: Path | str

    def run(self, *args: str, db: Path | str | None = None, env: dict[str, str] | None = None) -> Result:
        # catch_exceptions=False: an exception escaping the CLI is a bug the test must show, not hide.
        return CliRunner(env=env).invoke(cli, ["--db", str(db or self.db), *args], catch_exceptions=False)

    def ok(self, *args: str, **kwargs) -> Result:
        result = self.run(*args, **kwargs)
        assert result.exit_code == 0, result.output
        return result

    def json(self, *args: str, **kwargs) -> Any:
        return json.loads(self.ok(*args, "--json", **kwargs).stdout)

    def fails(self, *args: str, code: int | None = None, **kwargs) -> str:
        """Run a command that must fail; returns its one error line."""
        result = self.run(*args, **kwargs)
        assert_one_line_failure(result, code)
        return result.stderr.strip()


def assert_one_line_failure(result: Result, code: int | None = None) -> None:
    """Non-zero exit, nothing on stdout, exactly one ``syncview: error:`` line on stderr, no traceback."""
    assert result.exit_code != 0, result.output
    if code is not None:
        assert result.exit_code == code, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("syncview: error: "), lines[0]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


@pytest.fixture
def sv(db) -> Cli:
    return Cli(db)


def snapshot(path: Path | str) -> list[str] | None:
    """Everything a store holds (schema, rows, version), read without writing; None if there is no file."""
    if isinstance(path, str):
        return pg_snapshot(path)
    if not path.exists():
        return None
    if path.read_bytes()[:16] != b"SQLite format 3\x00":
        return [path.read_bytes().hex()]
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        header = [f"user_version={conn.execute('PRAGMA user_version').fetchone()[0]}"]
        return header + list(conn.iterdump())
    finally:
        conn.close()


def query(path: Path | str, sql: str, *params) -> list[tuple]:
    """Rows straight from the store (file or database), to check the CLI against."""
    if isinstance(path, str):
        return pg_query(path, sql, *params)
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def execute(path: Path | str, sql: str, *params) -> None:
    """Change the store behind syncview's back (one statement, committed), as another program would."""
    if isinstance(path, str):
        pg_execute(path, sql, *params)
        return
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(sql, params)
