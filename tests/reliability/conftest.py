"""Fixtures of the reliability tests: demo stores on disk, loopback product servers, configs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.loopback import serve  # noqa: F401  (the fixture)

@pytest.fixture
def engine() -> str:
    """The reliability tests run on SQLite; those that matter on a server ask for both engines
    (``@pytest.mark.parametrize("engine", ENGINES)``)."""
    return "sqlite"


#: Both store engines, for the reliability tests that matter on a server as well.
ENGINES = ["sqlite", "postgresql"]


@pytest.fixture
def empty_db(engine: str, tmp_path: Path, request):
    """Where a test's new store goes: a file not yet made, or the emptied PostgreSQL test store's URL."""
    if engine == "postgresql":
        shared = request.getfixturevalue("_pg_shared")
        shared.reset(demo=False)
        return shared.url
    return tmp_path / "store.db"


@pytest.fixture
def write_config(tmp_path: Path):
    """``write_config(text) -> path``: a config file of this test, private to the user (mode 600)."""
    def write(text: str, name: str = "config.toml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        path.chmod(0o600)
        return path
    return write


#: The HaloPSA fake's client secret, passed to syncview only through an env: reference.
HALO_SECRET = "HaloS3cret!value"
HALO_SECRET_VAR = "SYNCVIEW_TEST_HALO_SECRET"


def halo_config(base_url: str, *, name: str = "Halo", secret: str = f"env:{HALO_SECRET_VAR}",
                extra: str = "") -> str:
    """A config with one HaloPSA integration pointed at a fake server."""
    return (f'[[integrations]]\nname = "{name}"\nkind = "halopsa"\nresource_server = "{base_url}/api"\n'
            f'client_id = "halo-app-id"\nclient_secret = "{secret}"\ntenant = "acme"\npage_size = 5\n{extra}')
