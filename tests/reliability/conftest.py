"""Fixtures of the reliability tests: demo stores on disk, loopback product servers, configs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from syncview.services.seed import seed_demo
from syncview.store import open_store
from tests.loopback import serve  # noqa: F401  (the fixture)

#: As the other suites' demo store: every status and type, seeded in a blink.
DEMO_RESOURCES = 2_000


@pytest.fixture(scope="session")
def _demo_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("reliability-template") / "demo.db"
    store = open_store(path)
    seed_demo(store, DEMO_RESOURCES)
    store.close()  # checkpoints the WAL into the file: one file to copy
    return path


@pytest.fixture
def demo_db(_demo_template: Path, tmp_path: Path) -> Path:
    """A seeded demo store file of this test's own."""
    path = tmp_path / "demo.db"
    shutil.copyfile(_demo_template, path)
    return path


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
