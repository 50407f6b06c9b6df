"""Fixtures for connector tests: serve any WSGI fake on a real loopback socket (see tests/loopback.py),
and fail any test whose fake saw more than its product's documented limits."""

import pytest

from tests.connectors.fakes.wsgi import FakeServer
from tests.loopback import serve  # noqa: F401  (the fixture, shared with tests/reliability)


@pytest.fixture(autouse=True)
def _fakes_never_see_more_than_the_documented_limits():
    """Fails any connector test whose fake saw more requests at once or in a window than its
    product documents (the fake also answered those with 429)."""
    yield
    breaches = [(type(fake).__name__, fake.meter.violations) for fake in list(FakeServer.alive)
                if fake.meter.violations]
    FakeServer.alive.clear()
    assert not breaches, f"a fake saw more than its documented limits: {breaches}"


@pytest.fixture
def engine() -> str:
    """These tests are about the screen and the connectors, not the store: SQLite alone."""
    return "sqlite"
