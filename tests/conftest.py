"""Shared fixtures: real SQLite stores in a temporary directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncview import redaction
from syncview.services.seed import seed_demo
from syncview.store import Store, open_store

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


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "syncview.db"


@pytest.fixture
def store(store_path: Path) -> Store:
    opened = open_store(store_path)
    yield opened
    opened.close()


@pytest.fixture
def demo_store(store: Store) -> Store:
    seed_demo(store, DEMO_RESOURCES)
    return store
