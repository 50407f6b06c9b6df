"""Fixtures for connector tests: serve any WSGI fake on a real loopback socket (see tests/loopback.py)."""

from tests.loopback import serve  # noqa: F401  (the fixture, shared with tests/reliability)
