"""Secrets: resolved at use from ``env:``, ``cmd:`` and ``keyring:`` references, and then nowhere
to be found.

Real integrations (HaloPSA with an OAuth client secret from the environment, ConnectWise with
a private key printed by a command, Datto RMM with an API secret from the system keyring) sync from fake products on loopback; then every command an
operator or a script runs — sync, doctor, status, logs, export, config, and the errors of a
wrong secret, of a product echoing the secret back, of a connector bug — is run, and its
stdout, its stderr, the store's bytes (database, write-ahead log, shared memory), the sync log
entries and the crash report are searched for every secret value and every credential derived
from one (OAuth tokens, the Basic header): none may appear.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import keyring
import platformdirs
import pytest
from keyring.backend import KeyringBackend

from tests.connectors.fakes.connectwise import FakeConnectWise
from tests.connectors.fakes.datto_rmm import API_SECRET as DATTO_SECRET
from tests.connectors.fakes.datto_rmm import FakeDattoRmm
from tests.connectors.fakes.halopsa import FakeHaloPsa
from tests.reliability import leaky_connector
from tests.reliability.conftest import HALO_SECRET, HALO_SECRET_VAR, halo_config
from tests.reliability.support import Ran, invoke, query, run

CW_SECRET = FakeConnectWise().private_key


def leaks(text: str | bytes, secrets: list[str]) -> list[str]:
    """The secrets (in any form they take on the wire) found in ``text``."""
    haystack = text if isinstance(text, bytes) else text.encode("utf-8", "replace")
    found = []
    for secret in secrets:
        forms = {secret, quote(secret, safe=""), quote_plus(secret)}
        if any(form.encode() in haystack for form in forms):
            found.append(secret)
    return found


class MemoryKeyring(KeyringBackend):
    """A system keyring in memory, for ``keyring:`` references."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.passwords.pop((service, username), None)


class Estate:
    """Three integrations whose secrets come from an ``env:``, a ``cmd:`` and a ``keyring:`` reference,
    and a store."""

    def __init__(self, tmp_path: Path, serve) -> None:
        self.tmp = tmp_path
        self.db = tmp_path / "store.db"
        self.halo = FakeHaloPsa(clients=3, assets_per_client=2, users_per_client=1)
        self.cw = FakeConnectWise(companies=2, configurations_per_company=2, contacts_per_company=1)
        self.datto = FakeDattoRmm(sites=2, devices_per_site=2)
        key_file = tmp_path / "cw-private-key"
        key_file.write_text(CW_SECRET + "\n", encoding="utf-8")
        key_file.chmod(0o600)
        cw_url = f"{serve(self.cw)}/{self.cw.codebase}apis/3.0/"
        self.config = tmp_path / "config.toml"
        self.config.write_text(halo_config(serve(self.halo)) + f"""
[[integrations]]
name = "CW"
kind = "connectwise"
site = "cw.example.test"
base_url = "{cw_url}"
company_id = "{self.cw.company_id}"
public_key = "{self.cw.public_key}"
private_key = "cmd:cat {key_file}"
client_id = "{self.cw.client_id}"

[[integrations]]
name = "Datto"
kind = "datto_rmm"
api_url = "{serve(self.datto)}"
api_key = "{self.datto.api_key}"
api_secret = "keyring:syncview/Datto"
""", encoding="utf-8")
        self.config.chmod(0o600)
        self.env = {HALO_SECRET_VAR: HALO_SECRET}
        self.outputs: list[Ran] = []

    def drop_keyring_integration(self) -> None:
        """Leave Datto out: a separate process cannot see this test's in-memory keyring."""
        text = self.config.read_text(encoding="utf-8")
        self.config.write_text(text[:text.index('[[integrations]]\nname = "Datto"')], encoding="utf-8")

    def secrets(self) -> list[str]:
        """Every value that must stay hidden: the three secrets, the tokens issued, the Basic credential."""
        basic = base64.b64encode(f"{self.cw.company_id}+{self.cw.public_key}:{CW_SECRET}".encode()).decode()
        return [HALO_SECRET, CW_SECRET, DATTO_SECRET, basic, *self.halo.issued, *self.datto.tokens]

    def cli(self, *args: str, env: dict[str, str] | None = None) -> Ran:
        result = invoke("--db", self.db, "--config", self.config, *args, env={**self.env, **(env or {})})
        self.outputs.append(result)
        return result

    def assert_nothing_leaked(self, *extra: str) -> None:
        secrets = [*self.secrets(), *extra]
        assert all(len(s) >= 6 for s in secrets)
        for result in self.outputs:
            assert not leaks(result.stdout + result.stderr, secrets), (result.args, result.stdout, result.stderr)
        for suffix in ("", "-wal", "-shm", "-journal"):
            path = Path(f"{self.db}{suffix}")
            if path.exists():
                assert not leaks(path.read_bytes(), secrets), f"a secret is in {path.name}"
        for table in ("syncrun", "sync_log_entry", "integration", "resource", "audit_event"):
            assert not leaks(json.dumps(query(self.db, f"SELECT * FROM {table}"), default=str), secrets), table
        crash = platformdirs.user_log_path("syncview") / "crash.log"
        if crash.exists():
            assert not leaks(crash.read_bytes(), secrets), "a secret is in the crash report"


@pytest.fixture
def estate(tmp_path, serve) -> Iterator[Estate]:
    previous = keyring.get_keyring()
    memory = MemoryKeyring()
    memory.set_password("syncview", "Datto", DATTO_SECRET)
    keyring.set_keyring(memory)
    created = Estate(tmp_path, serve)
    created.cli("status").ok()  # the store exists: a failed first command would leave none to search
    yield created
    keyring.set_keyring(previous)


def test_every_command_of_a_working_setup_keeps_the_secrets_hidden(estate):
    estate.cli("sync", "--all").ok()
    assert estate.halo.issued and estate.datto.tokens, "the Halo and Datto syncs used tokens"
    estate.cli("sync", "--all", "--json").ok()
    doctor = json.loads(estate.cli("doctor", "--json").ok().stdout)
    assert doctor["ok"]
    assert {c["subject"] for c in doctor["checks"] if c["area"] == "connectivity"} == {"Halo", "CW", "Datto"}
    for args in (("doctor",), ("status",), ("status", "--json"), ("logs",), ("logs", "--json"),
                 ("resources", "--json"), ("export", "--format", "csv"), ("export", "--format", "json"),
                 ("config",), ("config", "--check"), ("config", "--json")):
        estate.cli(*args).ok()
    estate.assert_nothing_leaked()


def test_a_wrong_secret_is_an_authentication_failure_naming_the_integration_not_the_value(estate):
    wrong = "Wr0ng-secret-value"
    result = estate.cli("sync", "Halo", env={HALO_SECRET_VAR: wrong})
    assert result.error_line().startswith("syncview: error: authentication failed for Halo: ")
    doctor = estate.cli("doctor", env={HALO_SECRET_VAR: wrong})
    assert doctor.code == 1 and "authentication failed for Halo" in doctor.stdout
    estate.assert_nothing_leaked(wrong)


def test_a_product_echoing_the_secret_in_its_error_is_masked(estate):
    estate.cli("sync", "Halo").ok()  # a token is issued; the product then refuses it, quoting it all back
    token = estate.halo.issued[-1]
    estate.halo.fail(403, path="/api/Client", times=5, body={
        "message": f"client_secret {HALO_SECRET} with token {token} may not read clients"})
    line = estate.cli("sync", "Halo").error_line()
    assert "may not read clients" in line and "***" in line, line
    estate.cli("logs", "--level", "error").ok()
    estate.assert_nothing_leaked()


def test_a_secret_in_a_connectors_unexpected_exception_stays_off_screen_and_out_of_the_store(
        estate, monkeypatch):
    leaky_connector.register(monkeypatch)
    token = "leaky-T0ken-value-123"
    estate.config.write_text('[[integrations]]\nname = "Leaky"\nkind = "leaky"\ntoken = "env:LEAKY_TOKEN"\n',
                             encoding="utf-8")
    estate.env["LEAKY_TOKEN"] = token
    estate.cli("status").ok()  # Leaky registered in the store

    line = estate.cli("sync", "Leaky").error_line()
    assert line.startswith("syncview: error: unexpected RuntimeError: could not parse the answer to "
                           "Authorization: Bearer *** (details in "), line
    crash = platformdirs.user_log_path("syncview") / "crash.log"
    assert "Traceback" in crash.read_text(encoding="utf-8") and "***" in crash.read_text(encoding="utf-8")
    assert query(estate.db, "SELECT outcome, message FROM syncrun") == [
        ("failed", "Leaky: unexpected RuntimeError: could not parse the answer to Authorization: Bearer ***")]
    doctor = estate.cli("doctor")
    assert "the leaky connector failed unexpectedly (RuntimeError)" in doctor.stdout
    estate.assert_nothing_leaked(token)


@pytest.mark.slow
def test_a_real_process_keeps_the_secrets_off_its_output_and_its_store(estate):
    """The console script itself (its own logging set-up and stderr), with retries on the way."""
    estate.drop_keyring_integration()
    estate.halo.fail(503, path="/api/Site", times=1)  # a retry: a warning line that names the request
    done = run("--db", estate.db, "--config", estate.config, "sync", "--all", env=estate.env).ok()
    assert "syncview: warning: Halo: GET " in done.stderr and "retrying" in done.stderr
    estate.outputs.append(done)
    estate.outputs.append(run("--db", estate.db, "--config", estate.config, "doctor", env=estate.env).ok())
    estate.assert_nothing_leaked()


def test_a_config_others_can_read_while_it_shows_how_to_fetch_a_secret_is_warned_about_once(estate):
    estate.config.chmod(0o644)  # the CW private key's cmd: reference is readable by every user
    result = estate.cli("status", "--json").ok()
    warning = (f"syncview: warning: config file {estate.config} can be read by other users (mode 0644) and holds "
               f'credential details ("CW".public_key, "CW".private_key, "Datto".api_key); run: chmod 600 {estate.config}')
    assert result.stderr.splitlines() == [warning]
    assert json.loads(result.stdout)["integrations"]  # stdout stays a JSON document
    doctor = estate.cli("doctor", "--offline")
    assert doctor.code == 1 and doctor.stderr == ""
    assert doctor.stdout.splitlines()[0] == f"✗ config: {estate.config}: " + warning.removeprefix("syncview: warning: ")
    estate.config.chmod(0o600)
    assert estate.cli("status").ok().stderr == ""
