"""Shared fixtures: real stores, SQLite files in a temporary directory and PostgreSQL databases.

``store`` and ``demo_store`` run each test on both engines (the ``engine`` fixture); a
directory whose tests are about the screen overrides ``engine`` to SQLite alone. The
PostgreSQL cases need a server (tests/pg.py): without one they skip, saying why.
"""

from __future__ import annotations

import os
import shutil

from pathlib import Path

import pytest

from syncview import redaction
from syncview.services.seed import seed_demo
from syncview.store import Store, open_store
from tests import pg

# pytest-xdist's workers start with COLUMNS=80 and LINES=24 set, and a rich Console made at
# import (the CLI's) would keep 80 columns for good, whatever a test's COLUMNS says.
os.environ.pop("COLUMNS", None)
os.environ.pop("LINES", None)

#: Small enough to seed in a blink, big enough for every status, type and a mis-spelt client.
DEMO_RESOURCES = 2_000


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path_factory, monkeypatch):
    """Never read the developer's config or store, and act as a known operator.

    HOME is the test's own too: what falls back to it (~/Downloads for screenshots, a keyring
    file, platformdirs) never touches the developer's files, nor another test's when the suite
    runs in parallel (pytest-xdist: each worker has its own temporary directories)."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))
    monkeypatch.delenv("SYNCVIEW_CONFIG", raising=False)
    monkeypatch.delenv("SYNCVIEW_DB", raising=False)
    monkeypatch.setenv("SYNCVIEW_OPERATOR", "tester")
    yield
    redaction.PROCESS.clear()  # one test's secrets are not another's


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request) -> str:
    """The store engine a test runs on: each test asking for a store runs on both."""
    return request.param


@pytest.fixture(scope="session")
def pg_server():
    server = pg.connect_server()
    yield server
    for name in list(server.made):
        server.drop(server.url_of(name))


@pytest.fixture
def store_path(tmp_path: Path, request) -> Path:
    """An SQLite store file's path (a test reading the file itself runs on SQLite only)."""
    if "engine" in request.fixturenames and request.getfixturevalue("engine") == "postgresql":
        pytest.skip("reads or writes the SQLite file itself")
    return tmp_path / "syncview.db"


@pytest.fixture(scope="session")
def _pg_shared(pg_server):
    """This process's PostgreSQL store (see tests/pg.Shared), seeded once with the demo."""
    url = pg_server.create()
    seeded = open_store(url)
    seed_demo(seeded, DEMO_RESOURCES)
    seeded.close()
    shared = pg.Shared(pg_server, url)
    shared.take_snapshot()
    return shared


@pytest.fixture
def store_location(engine: str, tmp_path: Path, request):
    """Where the test's store lives: an SQLite file, or an empty PostgreSQL store's URL."""
    if engine == "sqlite":
        return tmp_path / "syncview.db"
    shared = request.getfixturevalue("_pg_shared")
    shared.reset(demo=False)
    return shared.url


@pytest.fixture
def store(store_location) -> Store:
    opened = open_store(store_location)
    yield opened
    opened.close()


@pytest.fixture
def demo_store(demo_db) -> Store:
    """The test's seeded demo store (:func:`demo_db`), open."""
    opened = open_store(demo_db)
    yield opened
    opened.close()


@pytest.fixture(scope="session")
def _demo_template(tmp_path_factory) -> Path:
    """One seeded demo store file for the whole session; tests get copies (seeding each time would dominate)."""
    path = tmp_path_factory.mktemp("template") / "demo.db"
    seeded = open_store(path)
    seed_demo(seeded, DEMO_RESOURCES)
    seeded.close()  # the last connection closing checkpoints the WAL into the file: one file to copy
    return path


@pytest.fixture
def demo_db(engine: str, tmp_path: Path, request):
    """A seeded demo store this test may change: a file (a copy of the session's) or, on
    PostgreSQL, the test store's URL reset to the demo."""
    if engine == "postgresql":
        shared = request.getfixturevalue("_pg_shared")
        shared.reset(demo=True)
        return shared.url
    path = tmp_path / "syncview.db"  # store_path's file: a test may read it through either
    shutil.copyfile(request.getfixturevalue("_demo_template"), path)
    return path
