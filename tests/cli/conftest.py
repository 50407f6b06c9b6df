"""Fixtures for the CLI tests: a seeded store file per test, and runners that check the exit contract."""

from __future__ import annotations

import json
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from syncview.cli import cli
from syncview.services.seed import seed_demo
from syncview.store import open_store
from tests.conftest import DEMO_RESOURCES


@pytest.fixture(scope="session")
def _demo_template(tmp_path_factory) -> Path:
    """One seeded store for the whole session; tests get copies (seeding each time would dominate)."""
    path = tmp_path_factory.mktemp("template") / "demo.db"
    store = open_store(path)
    seed_demo(store, DEMO_RESOURCES)
    store.close()  # the last connection closing checkpoints the WAL into the file
    return path


@pytest.fixture
def db(_demo_template: Path, tmp_path: Path) -> Path:
    """A demo store file this test may change."""
    path = tmp_path / "demo.db"
    shutil.copyfile(_demo_template, path)
    return path


@dataclass
class Cli:
    """Runs syncview in-process on one store and checks the exit contract."""

    db: Path

    def run(self, *args: str, db: Path | None = None, env: dict[str, str] | None = None) -> Result:
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
def sv(db: Path) -> Cli:
    return Cli(db)


def snapshot(path: Path) -> list[str] | None:
    """Everything a store holds (schema, rows, version), read without writing; None if there is no file."""
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


def query(path: Path, sql: str, *params) -> list[tuple]:
    """Rows straight from the store file, to check the CLI against."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()
