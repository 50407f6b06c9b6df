"""Logging in to a PostgreSQL store: where the password comes from, and what a refusal says.

The machine's server trusts every login, so these talk to ``refusing_pg``: a server on
loopback that asks for a password, records it and refuses it as a server with password
authentication does (SQLSTATE 28P01). What reached it shows which source syncview used;
the one line shows what the operator reads.
"""

from __future__ import annotations

import os

import pytest

from tests.cli.conftest import Cli
from tests.pg_refusing import refusing_pg  # noqa: F401 - the fixture

REFUSED = "refused the login of 'ana' (wrong or missing password)"


@pytest.fixture
def no_password_sources(tmp_path, monkeypatch):
    """No password from the environment or the operator's files, whatever this machine has."""
    for name in ("PGPASSWORD", "PGPASSFILE", "PGSERVICEFILE", "PGSSLMODE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-pgpass"))
    (tmp_path / "empty.toml").write_text("")
    monkeypatch.setenv("SYNCVIEW_CONFIG", str(tmp_path / "empty.toml"))


def _refused(sv: Cli, **kwargs) -> str:
    line = sv.fails("resources", code=1, **kwargs)
    assert REFUSED in line, line
    assert "PGPASSWORD" in line and "~/.pgpass" in line and "[store] password" in line, line
    return line


@pytest.mark.usefixtures("no_password_sources")
def test_a_wrong_pgpassword_is_refused_in_one_line_that_never_shows_it(refusing_pg):  # noqa: F811
    line = _refused(Cli(refusing_pg.url()), env={"PGPASSWORD": "Wr0ng-from-env"})
    assert "Wr0ng-from-env" not in line
    assert [(login.user, login.database, login.password) for login in refusing_pg.logins] == [
        ("ana", "team", "Wr0ng-from-env")]


@pytest.mark.usefixtures("no_password_sources")
def test_the_pgpass_file_gives_the_password(refusing_pg, tmp_path):  # noqa: F811
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"127.0.0.1:{refusing_pg.port}:team:ana:From-pgpass\n")
    os.chmod(pgpass, 0o600)
    line = _refused(Cli(refusing_pg.url()), env={"PGPASSFILE": str(pgpass)})
    assert "From-pgpass" not in line
    assert [login.password for login in refusing_pg.logins] == ["From-pgpass"]


@pytest.mark.usefixtures("no_password_sources")
def test_the_configs_secret_reference_gives_the_password(refusing_pg, tmp_path):  # noqa: F811
    config = tmp_path / "config.toml"
    config.write_text('[store]\npassword = "env:TEAM_STORE_PASSWORD"\n')
    line = _refused(Cli(refusing_pg.url()), env={"SYNCVIEW_CONFIG": str(config),
                                                 "TEAM_STORE_PASSWORD": "From-config",
                                                 "PGPASSWORD": "not-this-one"})
    assert "From-config" not in line
    assert [login.password for login in refusing_pg.logins] == ["From-config"]


@pytest.mark.usefixtures("no_password_sources")
def test_no_password_at_all_is_the_same_one_line(refusing_pg):  # noqa: F811
    _refused(Cli(refusing_pg.url()))
    assert [login.password for login in refusing_pg.logins] == [None]


@pytest.mark.usefixtures("no_password_sources")
def test_doctor_says_the_same(refusing_pg):  # noqa: F811
    result = Cli(refusing_pg.url()).run("doctor", env={"PGPASSWORD": "Wr0ng"})
    assert result.exit_code == 1
    assert [line for line in result.stdout.splitlines() if line.startswith("✗")] == [
        f"✗ store: {refusing_pg.url()}: the PostgreSQL server 127.0.0.1:{refusing_pg.port} {REFUSED}: set "
        "PGPASSWORD, add it to ~/.pgpass, or set [store] password in the config"]
    assert "Wr0ng" not in result.output
