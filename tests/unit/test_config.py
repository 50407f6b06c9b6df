"""The config file: discovery, checking, secret references and the permission warning.

Connector kinds come from a test-local connector (the built-in ones may not be
importable yet), wired in by monkeypatching ``config.settings_schema_for``, the
one place the config module looks connectors up.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
import textwrap
from pathlib import Path

import keyring
import keyring.backend
import keyring.backends.fail
import keyring.errors
import pytest

from syncview import config
from syncview.config import (
    Config,
    IntegrationConfig,
    UnknownKindError,
    find_config_path,
    is_secret_reference,
    load_config,
    parse_config,
    resolve_secret,
    resolve_settings,
    warn_if_readable_by_others,
)
from syncview.connectors.base import Connector, Setting
from syncview.errors import ConfigError, SecretError

SECRET = "s3cret-Value-42"
EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"
real_settings_schema_for = config.settings_schema_for


class FakeConnector(Connector):
    """One setting of every type, a secret, defaults and optional ones."""

    kind = "fake"
    title = "Fake PSA"
    settings_schema = (
        Setting("api_url", "url", help="where the API lives"),
        Setting("username"),
        Setting("password", secret=True),
        Setting("page_size", "int", required=False, default=100),
        Setting("verbose", "bool", required=False, default=False),
        Setting("export", "path", required=False),
        Setting("api_key", required=False),
    )

    def fetch(self, since=None):
        yield from ()


#: Connector kinds as the operator's installation would have them; only "fake" is loadable.
KINDS = {"fake": FakeConnector.settings_schema, "autotask": (), "connectwise": (), "datto_rmm": ()}


def fake_schema(kind: str) -> tuple[Setting, ...]:
    if kind not in KINDS:
        raise UnknownKindError(kind, list(KINDS))
    return KINDS[kind]


@pytest.fixture(autouse=True)
def _fake_kinds(monkeypatch):
    monkeypatch.setattr(config, "settings_schema_for", fake_schema)


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    return str(caught.value)


GOOD = """\
    [store]
    path = "data/sync.db"

    [ui]
    theme = "nord"

    [keymap]
    rematch = "m"
    undo = "u,z"

    [[integrations]]
    name = "Fake One"
    kind = "fake"
    api_url = "https://api.example.test/v1"
    username = "apiuser"
    password = "env:FAKE_PASSWORD"
    page_size = 500
    create_missing = true
    rate_limit = 120
    timeout = 12.5

    [[integrations]]
    name = "Fake Two"
    kind = "fake"
    api_url = "http://localhost:8080"
    username = "other"
    password = "keyring:syncview/Fake Two"
    enabled = false
    export = "~/exports/two.csv"
"""


def fake(name: str = "X", **settings) -> str:
    """An integration table of the fake kind with its required settings; a setting given None is left out."""
    values = {"api_url": "https://api.example.test", "username": "u", "password": "env:PW", **settings}
    lines = [f"{key} = {json.dumps(value)}" for key, value in values.items() if value is not None]
    return f'[[integrations]]\nname = "{name}"\nkind = "fake"\n' + "\n".join(lines) + "\n"


# --- a good file -------------------------------------------------------------------------------


def test_good_file_loads_with_every_key(tmp_path):
    path = write(tmp_path, GOOD)
    cfg = load_config(path)
    assert cfg.path == path
    assert cfg.store_path == tmp_path / "data" / "sync.db"  # relative to the file
    assert cfg.theme == "nord"
    assert cfg.keymap == {"rematch": "m", "undo": "u,z"}
    one, two = cfg.integrations
    assert one == IntegrationConfig(
        name="Fake One", kind="fake",
        settings={"api_url": "https://api.example.test/v1", "username": "apiuser",
                  "password": "env:FAKE_PASSWORD", "page_size": 500},
        create_missing=True, enabled=True, rate_limit=120.0, timeout=12.5)
    assert two.enabled is False and two.create_missing is False
    assert two.rate_limit is None and two.timeout == 30.0
    assert two.settings["password"] == "keyring:syncview/Fake Two"  # still a reference at load
    assert cfg.integration("Fake Two") is two


def test_empty_text_is_an_empty_config():
    assert parse_config("") == Config(path=None)


def test_absolute_and_home_store_paths(tmp_path):
    assert parse_config('[store]\npath = "/srv/s.db"\n', tmp_path / "c.toml").store_path == Path("/srv/s.db")
    assert parse_config('[store]\npath = "~/s.db"\n').store_path == Path("~/s.db").expanduser()


def test_unknown_integration_name_lists_the_configured_ones(tmp_path):
    cfg = load_config(write(tmp_path, GOOD))
    with pytest.raises(ConfigError) as caught:
        cfg.integration("Fake Oen")
    message = str(caught.value)
    assert 'no integration named "Fake Oen"' in message
    assert 'did you mean "Fake One"?' in message
    assert '"Fake One", "Fake Two"' in message


# --- errors: each names the file and the line or key --------------------------------------------


def test_toml_syntax_error_names_file_line_and_column(tmp_path):
    text = '[ui]\ntheme = "nord"\n\n[[integrations]]\nname "X"\n'
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == (
        f"config error in {path}, line 5, column 6: expected '=' after a key in a key/value pair")


def test_toml_error_at_the_end_of_the_file(tmp_path):
    assert error_of(tmp_path, "ids = [1,\n") == (
        f"config error in {tmp_path / 'config.toml'}, at the end of the file: invalid value")


def test_unknown_kind_names_the_integration_and_the_known_kinds(tmp_path):
    path = write(tmp_path, fake("Fake") + '\n[[integrations]]\nname = "Datto"\nkind = "dato_rmm"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == (
        f'config error in {path}: integrations[2] ("Datto"): kind "dato_rmm" is unknown '
        f'(did you mean "datto_rmm"?); known kinds: autotask, connectwise, datto_rmm, fake')


@pytest.mark.parametrize(("line", "expected"), [
    ('rate_limit = "fast"', "rate_limit must be a positive number of requests per minute, got 'fast'"),
    ("rate_limit = 0", "rate_limit must be a positive number of requests per minute, got 0"),
    ('rate_account = " "', "rate_account must be a name of 1 to 100 printable characters, the same on every "
                           "integration of one vendor account (e.g. rate_account = \"autotask-prod\"), got ' '"),
    ('rate_account = "a\\u001b[2Jb"', "rate_account must be a name of 1 to 100 printable characters, the same "
                                    "on every integration of one vendor account (e.g. rate_account = "
                                    "\"autotask-prod\"), got 'a\\x1b[2Jb'"),
    ("rate_account = 7", "got 7"),
    ("timeout = -1", "timeout must be a positive number of seconds, got -1"),
    ("timeout = true", "timeout must be a positive number of seconds, got True"),
    ('create_missing = "yes"', "create_missing must be true or false, got 'yes'"),
    ("enabled = 1", "enabled must be true or false, got 1"),
    ('page_size = "10"', "page_size must be a whole number, got '10'"),
    ("page_size = 1.5", "page_size must be a whole number, got 1.5"),
    ('verbose = "no"', "verbose must be true or false, got 'no'"),
    ("username = 7", "username must be a non-empty string, got 7"),
    ('username = " "', "username must be a non-empty string, got ' '"),
    ('export = ""', "export must be a non-empty string, got ''"),
])
def test_wrong_types_say_what_is_expected(tmp_path, line, expected):
    key = line.split(" =")[0]
    message = error_of(tmp_path, fake("Fake", **{key: None}) + line + "\n")
    assert message.startswith(f'config error in {tmp_path / "config.toml"}: integrations[1] ("Fake"): ')
    assert message.endswith(expected)


def test_url_settings_need_http_or_https(tmp_path):
    message = error_of(tmp_path, fake("Fake", api_url="ftp://api.example.test"))
    assert message.endswith("api_url must be a URL starting with https:// (or http://), got 'ftp://api.example.test'")


def test_unknown_top_level_key_suggests_the_right_one(tmp_path):
    message = error_of(tmp_path, '[[integration]]\nname = "X"\n')
    assert message == (f"config error in {tmp_path / 'config.toml'}: unknown key 'integration' "
                       f'(did you mean "integrations"?); expected one of: store, ui, operator, keymap, identity, integrations')


def test_match_on_sets_the_rules_and_their_order(tmp_path):
    cfg = parse_config(fake("Fake") + 'match_on = ["serial", "name"]\n')
    assert cfg.integrations[0].match_on == ("serial", "name")
    assert parse_config(fake("Fake")).integrations[0].match_on == ("xref", "serial", "mac", "email", "name")


@pytest.mark.parametrize(("line", "expected"), [
    ('match_on = ["serail"]', """match_on has unknown rule 'serail' (did you mean "serial"?); expected a list"""),
    ('match_on = "serial"', "match_on must be a list of rules from xref, serial, mac, email, name"),
    ('match_on = ["name", "name"]', "match_on names a rule twice (['name', 'name'])"),
])
def test_a_bad_match_on_is_one_clear_line(tmp_path, line, expected):
    message = error_of(tmp_path, fake("Fake") + line + "\n")
    assert expected in message and "\n" not in message


def test_the_identity_section_adds_placeholders_every_integration_uses(tmp_path):
    cfg = parse_config('[identity]\nplaceholder_serials = ["ASSET-TBD"]\nplaceholder_macs = ["00-11-22-33-44-55"]\n'
                       + fake("Fake"))
    assert cfg.identity.serial_is_placeholder("ASSET-TBD")
    assert cfg.identity.mac_is_placeholder("00:11:22:33:44:55")
    assert cfg.integrations[0].identity is cfg.identity


@pytest.mark.parametrize(("text", "expected"), [
    ('[identity]\nplaceholder_macs = ["nope"]\n', "identity.placeholder_macs: 'nope' is not a MAC address"),
    ('[identity]\nplaceholder_serials = "X"\n', "identity.placeholder_serials must be a list of non-empty strings"),
    ('[identity]\nplaceholders = []\n', "identity: unknown key 'placeholders'"),
])
def test_a_bad_identity_section_is_one_clear_line(tmp_path, text, expected):
    message = error_of(tmp_path, text)
    assert expected in message and "\n" not in message


def test_unknown_key_in_a_section(tmp_path):
    message = error_of(tmp_path, '[store]\npaht = "x.db"\n')
    assert message.endswith("""store: unknown key 'paht' (did you mean "path"?); expected one of: path, password""")
    assert "theme" in error_of(tmp_path, '[ui]\ntheem = "nord"\n')


def test_unknown_integration_key_suggests_a_setting(tmp_path):
    message = error_of(tmp_path, fake("Fake") + 'usrname = "u"\n')
    assert """integrations[1] ("Fake"): unknown key 'usrname' (did you mean "username"?)""" in message
    assert "api_url" in message and "rate_limit" in message  # the expected keys are listed


def test_missing_required_settings_are_named(tmp_path):
    message = error_of(tmp_path, '[[integrations]]\nname = "Fake"\nkind = "fake"\nusername = "u"\n')
    assert message.endswith('integrations[1] ("Fake"): missing required setting(s) for kind "fake": api_url, password')


def test_duplicate_names_are_refused_whatever_the_case(tmp_path):
    message = error_of(tmp_path, fake("Acme PSA") + fake("acme psa"))
    assert message.endswith('integrations[2]: name "acme psa" is already used by integrations[1]; '
                            "every integration needs its own name")


@pytest.mark.parametrize("other", ["Cafe\u0301", "Caf\u00e9 ", "Caf\u200b\u00e9", "\ufeffCAF\u00c9"])
def test_names_that_look_the_same_are_the_same_name(tmp_path, other):
    """Unicode forms (NFD from a Mac), invisible characters and spaces around do not make a new name."""
    message = error_of(tmp_path, fake("Caf\u00e9") + fake(other))
    assert message.endswith("is already used by integrations[1]; every integration needs its own name")
    loaded = load_config(write(tmp_path, fake(other)))
    assert loaded.integrations[0].name == other.strip().replace("\u200b", "").replace("\ufeff", "").replace(
        "Cafe\u0301", "Caf\u00e9")
    assert loaded.integration("caf\u00e9 \u200b").name == loaded.integrations[0].name


def test_many_integrations_are_checked_in_one_pass(tmp_path):
    """16 000 integrations load (the duplicate check once took 15 s: a scan per table)."""
    text = "".join(fake(f"Integration {n}") for n in range(16_000)) + fake("integration 77")
    message = error_of(tmp_path, text)
    assert message.endswith('integrations[16001]: name "integration 77" is already used by integrations[78]; '
                            "every integration needs its own name")


def test_a_config_that_is_a_fifo_or_a_device_or_huge_is_refused_in_one_line(tmp_path, monkeypatch):
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)  # nobody writes: reading it would wait forever
    with pytest.raises(ConfigError) as caught:
        load_config(fifo)
    assert str(caught.value) == (f"config file {fifo} is a named pipe (FIFO), not a file; point --config or "
                                 "SYNCVIEW_CONFIG at the config file itself")
    zero = tmp_path / "zero.toml"
    zero.symlink_to("/dev/zero")
    with pytest.raises(ConfigError, match=r"is a device, not a file"):
        load_config(zero)
    monkeypatch.setattr(config.bounded, "MAX_CONFIG_BYTES", 1000)
    big = write(tmp_path, fake("Big") + "#" * 2000 + "\n")
    with pytest.raises(ConfigError) as caught:
        load_config(big)
    assert str(caught.value) == (f"config file {big} is larger than 1000 bytes, too large for a config; point "
                                 "--config or SYNCVIEW_CONFIG at the config file itself")


@pytest.mark.parametrize("name_line", ['name = ""', 'name = "   "', "", "name = 3"])
def test_names_must_be_non_empty_strings(tmp_path, name_line):
    message = error_of(tmp_path, f'[[integrations]]\n{name_line}\nkind = "fake"\n')
    assert "integrations[1]: name is missing or empty" in message


def test_kind_is_required(tmp_path):
    message = error_of(tmp_path, '[[integrations]]\nname = "X"\n')
    assert message.endswith('integrations[1] ("X"): kind is missing; set it to a connector, e.g. kind = "connectwise"')


def test_integrations_need_double_brackets(tmp_path):
    message = error_of(tmp_path, '[integrations]\nname = "X"\n')
    assert "integrations must be written as [[integrations]] tables (double brackets)" in message


def test_keymap_values_are_strings(tmp_path):
    assert error_of(tmp_path, "[keymap]\nquit = 1\n").endswith("keymap.quit must be a string, got 1")


def test_a_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "config.toml"
    path.write_bytes(b"[ui]\ntheme = \"\xff\"\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(path)


# --- secrets: references only, never echoed ----------------------------------------------------


@pytest.mark.parametrize("value", [f'"{SECRET}"', "123456", '"env"', '"ENV:X"'])
def test_a_literal_secret_is_refused_without_repeating_it(tmp_path, value):
    message = error_of(tmp_path, fake("Acme CW", password=None) + f"password = {value}\n")
    assert 'integrations[1] ("Acme CW"): password is a secret and must not be written in the file' in message
    assert 'password = "env:ACME_CW_PASSWORD"' in message
    assert 'password = "keyring:syncview/Acme CW"' in message
    assert "cmd:" in message
    assert SECRET not in message and "123456" not in message


@pytest.mark.parametrize(("reference", "expected"), [
    ("env:", "needs an environment variable name"),
    ("env:NOT-A-NAME", "needs an environment variable name"),
    ("keyring:syncview", "needs a keyring service and user"),
    ("keyring:/user", "needs a keyring service and user"),
    ("cmd:", "needs a command"),
    ("cmd:pass show 'msp", "is not a valid command line"),
])
def test_malformed_references_fail_at_load(tmp_path, reference, expected):
    message = error_of(tmp_path, fake("Fake", password=reference))
    assert f'integrations[1] ("Fake"): password: reference "{reference}" {expected}' in message


def test_references_are_recognised_by_prefix():
    assert all(is_secret_reference(v) for v in ("env:X", "keyring:a/b", "cmd:pass show x"))
    assert not any(is_secret_reference(v) for v in ("hunter2", "ENV:X", "environment:X", ""))


def integration(password: str, **settings) -> IntegrationConfig:
    return IntegrationConfig(name="Acme CW", kind="fake", settings={
        "api_url": "https://api.example.test", "username": "u", "password": password, **settings})


def test_resolve_settings_applies_defaults_and_resolves_env(tmp_path):
    resolved = resolve_settings(integration("env:ACME_PW", export="~/x.csv"), environ={"ACME_PW": SECRET})
    assert resolved == {"api_url": "https://api.example.test", "username": "u", "password": SECRET,
                        "page_size": 100, "verbose": False, "export": str(Path("~/x.csv").expanduser()),
                        "api_key": None}


def test_loading_never_resolves_secrets(tmp_path):
    # FAKE_PASSWORD is not set, yet the file loads: secrets are looked up only when used.
    cfg = load_config(write(tmp_path, GOOD), environ={})
    with pytest.raises(SecretError):
        resolve_settings(cfg.integration("Fake One"), environ={})


def test_missing_env_var_names_integration_setting_and_reference():
    with pytest.raises(SecretError) as caught:
        resolve_settings(integration("env:ACME_PW"), environ={})
    assert str(caught.value) == ('integration "Acme CW", setting password: "env:ACME_PW": environment variable '
                                 "ACME_PW is not set; export it before starting syncview")


def test_empty_env_var_is_refused():
    with pytest.raises(SecretError, match=r'"env:ACME_PW" gives an empty secret'):
        resolve_settings(integration("env:ACME_PW"), environ={"ACME_PW": ""})


def python_cmd(code: str) -> str:
    return "cmd:" + shlex.join([sys.executable, "-c", code])


def test_cmd_reference_runs_without_a_shell_and_drops_the_newline():
    assert resolve_secret(python_cmd("print('s3cret')")) == "s3cret"
    # Without a shell, "$HOME" and ";" reach the program as they are.
    assert resolve_secret(python_cmd("import sys; print(sys.argv[1])") + " '$HOME;x'") == "$HOME;x"


def test_failing_cmd_names_program_and_status_not_its_output():
    # The output is built at run time, so the secret is not in the command's own text.
    half = len(SECRET) // 2
    code = f"import sys; s = {SECRET[:half]!r} + {SECRET[half:]!r}; print(s); print(s, file=sys.stderr); sys.exit(3)"
    reference = python_cmd(code)
    with pytest.raises(SecretError) as caught:
        resolve_settings(integration(reference), environ={})
    message = str(caught.value)
    assert message.startswith('integration "Acme CW", setting password: ')
    assert f"{sys.executable} failed with exit status 3; run it yourself to see why" in message
    assert SECRET not in message


def test_cmd_printing_nothing_is_an_empty_secret():
    with pytest.raises(SecretError, match="gives an empty secret"):
        resolve_secret(python_cmd("pass"))


def test_cmd_program_not_found():
    with pytest.raises(SecretError) as caught:
        resolve_secret("cmd:no-such-program-syncview --get x")
    assert "program no-such-program-syncview was not found" in str(caught.value)
    assert '"cmd:no-such-program-syncview --get x"' in str(caught.value)


def test_cmd_timeout(monkeypatch):
    monkeypatch.setattr(config, "CMD_TIMEOUT", 0.5)
    with pytest.raises(SecretError, match=r"did not finish within 0.5 s and was stopped; make sure it does not "
                                          r"wait for input"):
        resolve_secret(python_cmd("import time; time.sleep(10)"))


def test_a_cmd_that_times_out_is_killed_with_what_it_started(monkeypatch, tmp_path):
    """The command and a child it left behind are both gone once the reference has failed."""
    monkeypatch.setattr(config, "CMD_TIMEOUT", 0.5)
    pids = tmp_path / "pids"
    code = ("import os, subprocess, sys, time; "
            "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)']); "
            f"open({str(pids)!r}, 'w').write(f'{{os.getpid()}} {{child.pid}}'); time.sleep(30)")
    with pytest.raises(SecretError, match="was stopped"):
        resolve_secret(python_cmd(code))
    for pid in map(int, pids.read_text().split()):
        for _ in range(50):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            import time
            time.sleep(0.05)
        else:
            raise AssertionError(f"process {pid} is still running")


def test_a_cmd_runs_in_its_own_session_without_the_terminal():
    """It cannot open /dev/tty (the operator's keyboard) nor read standard input."""
    code = ("import os, sys\n"
            "try:\n    os.open('/dev/tty', os.O_RDWR); tty = 'tty'\nexcept OSError:\n    tty = 'no-tty'\n"
            "print(tty, os.getsid(0) == os.getpid(), repr(sys.stdin.read()))")
    assert resolve_secret(python_cmd(code)) == "no-tty True ''"


def test_a_cmd_printing_without_end_is_stopped_at_the_limit():
    with pytest.raises(SecretError, match=r"printed more than 1 MiB, more than any secret; make it print the "
                                          r"secret alone"):
        resolve_secret(python_cmd("import sys\nwhile True: sys.stdout.write('x' * 65536)"))


def test_resolve_secret_never_echoes_a_non_reference():
    with pytest.raises(SecretError) as caught:
        resolve_secret(SECRET)
    assert SECRET not in str(caught.value)


class MemoryKeyring(keyring.backend.KeyringBackend):
    priority = 1

    def __init__(self, entries=None):
        super().__init__()
        self.entries = dict(entries or {})

    def get_password(self, service, username):
        return self.entries.get((service, username))

    def set_password(self, service, username, password):
        self.entries[(service, username)] = password

    def delete_password(self, service, username):
        self.entries.pop((service, username), None)


class BrokenKeyring(MemoryKeyring):
    def get_password(self, service, username):
        raise keyring.errors.KeyringLocked("the collection is locked")


@pytest.fixture
def use_keyring():
    previous = keyring.get_keyring()
    yield keyring.set_keyring
    keyring.set_keyring(previous)


def test_keyring_entry_is_resolved(use_keyring):
    use_keyring(MemoryKeyring({("syncview", "Acme CW"): SECRET}))
    assert resolve_settings(integration("keyring:syncview/Acme CW"))["password"] == SECRET


def test_missing_keyring_entry_says_how_to_add_it(use_keyring):
    use_keyring(MemoryKeyring())
    with pytest.raises(SecretError) as caught:
        resolve_settings(integration("keyring:syncview/Acme CW"))
    assert str(caught.value) == (
        'integration "Acme CW", setting password: "keyring:syncview/Acme CW": no keyring entry for service '
        "\"syncview\", user \"Acme CW\"; add it with: keyring set syncview 'Acme CW'")


@pytest.mark.parametrize("backend", [keyring.backends.fail.Keyring(), BrokenKeyring()], ids=["none", "locked"])
def test_unusable_keyring_is_reported_clearly(use_keyring, backend):
    use_keyring(backend)
    with pytest.raises(SecretError) as caught:
        resolve_secret("keyring:syncview/Acme CW")
    assert '"keyring:syncview/Acme CW": the system keyring is not available (' in str(caught.value)
    assert "use an env: reference instead" in str(caught.value)


# --- where the config is found -----------------------------------------------------------------


@pytest.fixture
def default_path(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "default" / "config.toml"
    monkeypatch.setattr(config, "default_config_path", lambda: path)
    return path


def test_discovery_order(tmp_path, default_path):
    default_path.parent.mkdir()
    default_path.write_text("")
    explicit, from_env = tmp_path / "explicit.toml", tmp_path / "env.toml"
    environ = {"SYNCVIEW_CONFIG": str(from_env)}
    assert find_config_path(explicit, environ) == (explicit, True)
    assert find_config_path(None, environ) == (from_env, True)
    assert find_config_path(None, {}) == (default_path, False)
    assert find_config_path(None, {"SYNCVIEW_CONFIG": ""}) == (default_path, False)


def test_no_default_file_is_an_empty_config(default_path):
    assert find_config_path(None, {}) == (None, False)
    assert load_config(environ={}) == Config(path=None)


def test_loads_from_env_and_explicit(tmp_path, default_path):
    default_path.parent.mkdir()
    default_path.write_text('[ui]\ntheme = "default"\n')
    write(tmp_path, '[ui]\ntheme = "env"\n', "env.toml")
    write(tmp_path, '[ui]\ntheme = "explicit"\n', "explicit.toml")
    environ = {"SYNCVIEW_CONFIG": str(tmp_path / "env.toml")}
    assert load_config(tmp_path / "explicit.toml", environ).theme == "explicit"
    assert load_config(None, environ).theme == "env"
    assert load_config(None, {}).theme == "default"


@pytest.mark.parametrize("how", ["explicit", "env"])
def test_a_requested_file_must_exist(tmp_path, default_path, how):
    missing = tmp_path / "nope.toml"
    args = (missing, {}) if how == "explicit" else (None, {"SYNCVIEW_CONFIG": str(missing)})
    with pytest.raises(ConfigError) as caught:
        load_config(*args)
    assert str(caught.value).startswith(f"config file {missing} does not exist")


def test_a_directory_is_not_a_config(tmp_path):
    with pytest.raises(ConfigError, match="is a directory, not a file; point --config"):
        load_config(tmp_path)


@pytest.mark.skipif(sys.platform != "linux", reason="XDG layout")
def test_default_path_is_in_the_user_config_dir():
    assert config.default_config_path() == Path(os.environ["XDG_CONFIG_HOME"]) / "syncview" / "config.toml"


# --- permission warning ------------------------------------------------------------------------


@pytest.mark.skipif(os.name == "nt", reason="POSIX modes")
@pytest.mark.parametrize(("mode", "extra", "warns"), [
    (0o600, 'password = "cmd:pass show x"', None),
    (0o644, 'password = "cmd:pass show x"', "can be read by other users (mode 0644)"),
    (0o640, 'password = "cmd:pass show x"', "can be read by other users (mode 0640)"),
    (0o644, 'password = "env:PW"', None),  # only names a variable: not worth crying wolf
    (0o644, 'password = "keyring:syncview/X"', None),
    (0o644, 'password = "env:PW"\napi_key = "ABCDEF"', "can be read by other users"),
    (0o644, 'password = "env:PW"\napi_key = "env:KEY"', None),
    (0o620, 'password = "env:PW"', "can be written by other users (mode 0620)"),
    (0o606, 'password = "env:PW"', "can be written by other users"),
])
def test_permission_warning(tmp_path, mode, extra, warns):
    path = write(tmp_path, fake("X", password=None) + extra + "\n")
    path.chmod(mode)
    warning = warn_if_readable_by_others(load_config(path))
    if warns is None:
        assert warning is None
    else:
        assert warns in warning
        assert f"chmod 600 {path}" in warning
        assert "ABCDEF" not in warning and "pass show" not in warning


def test_no_file_no_warning():
    assert warn_if_readable_by_others(Config(path=None)) is None


# --- the example file and the real registry ----------------------------------------------------


#: Settings of each built-in kind as the example documents them (secret ones marked).
DOCUMENTED = {
    "demo": ("flavour", "resources", "seed"),
    "files": ("path", "format", "type", "id_column", "name_column", "type_column", "company_column",
              "serial_column", "mac_column", "hostname_column", "email_column"),
    "connectwise": ("site", "company_id", "public_key", "private_key*", "client_id", "base_url", "page_size",
                    "forward_only", "company_types", "company_statuses", "include_inactive", "incremental_sites"),
    "autotask": ("username", "secret*", "integration_code*", "zone_url", "company_types", "include_inactive"),
    "datto_rmm": ("api_url", "api_key", "api_secret*", "include_on_demand_sites", "network_interfaces"),
    "halopsa": ("resource_server", "auth_server", "tenant", "client_id", "client_secret*", "page_size",
                "hostname_field", "serial_field", "include_inactive", "include_general_users"),
}


#: Documented settings that are not strings, for the fallback schema below.
_TYPES = {"resources": "int", "seed": "int", "page_size": "int", "forward_only": "bool", "include_inactive": "bool",
          "include_on_demand_sites": "bool", "network_interfaces": "bool", "include_general_users": "bool",
          "company_types": "list", "company_statuses": "list"}


def documented_schema(kind: str) -> tuple[Setting, ...]:
    """The real connector's settings where it can be loaded, else the documented ones."""
    try:
        return real_settings_schema_for(kind)
    except ConfigError:
        return tuple(Setting(n.rstrip("*"), _TYPES.get(n, "str"), required=False, secret=n.endswith("*"))
                     for n in DOCUMENTED[kind])


def example_sections() -> dict[str, str]:
    """The example's text per connector kind: each kind's part opens with a line "# kind — what it is"."""
    parts = re.split(r"^# (?=[a-z_]+ — )", EXAMPLE.read_text(encoding="utf-8"), flags=re.M)
    return {part.split(" ", 1)[0]: part for part in parts[1:]}


@pytest.mark.parametrize("kind", sorted(DOCUMENTED))
def test_the_example_documents_every_setting_of_every_built_in_connector(kind):
    section = example_sections()[kind]
    schema = real_settings_schema_for(kind)
    missing = [s.name for s in schema if not re.search(rf"^(# )?{s.name} = ", section, flags=re.M)]
    assert not missing, f"config.example.toml does not document {kind}'s {', '.join(missing)}"
    assert {s.name for s in schema} == {n.rstrip("*") for n in DOCUMENTED[kind]}


def test_every_built_in_connector_is_in_the_example():
    from syncview.connectors import registry

    assert set(registry.available()) == set(DOCUMENTED) == set(example_sections())


def test_example_file_loads_as_is(monkeypatch):
    monkeypatch.setattr(config, "settings_schema_for", documented_schema)
    cfg = load_config(EXAMPLE, environ={})
    assert [(i.name, i.kind) for i in cfg.integrations] == [("Demo PSA", "demo")]
    assert cfg.integration("Demo PSA").settings["flavour"] == "psa"


def test_every_commented_example_integration_is_valid(monkeypatch):
    """Uncommented, each example [[integrations]] loads against its connector's settings."""
    monkeypatch.setattr(config, "settings_schema_for", documented_schema)
    blocks, block = [], None
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line == "# [[integrations]]":
            block = [line[2:]]
            blocks.append(block)
        elif block is not None and line.startswith("# "):
            block.append(line[2:])
        else:
            block = None
    cfg = parse_config("\n".join("\n".join(b) for b in blocks), EXAMPLE)
    assert sorted(i.kind for i in cfg.integrations) == sorted(set(DOCUMENTED) - {"demo"})
    for integration in cfg.integrations:
        for setting in documented_schema(integration.kind):
            if setting.secret:
                assert is_secret_reference(integration.settings[setting.name])


def test_real_registry_unknown_kind():
    with pytest.raises(UnknownKindError) as caught:
        real_settings_schema_for("dato_rmm")
    assert 'kind "dato_rmm" is unknown (did you mean "datto_rmm"?); known kinds: ' in str(caught.value)
    assert "demo" in caught.value.known


def test_real_demo_connector_settings():
    pytest.importorskip("syncview.connectors.demo")
    names = {s.name for s in real_settings_schema_for("demo")}
    assert {"flavour", "resources", "seed"} <= names


def test_the_limits_of_an_answer_are_generic_keys_with_checked_values(tmp_path):
    loaded = load_config(write(tmp_path, fake("Limits") + "request_deadline = 60\nmax_response_bytes = 1048576\n"
                                                          "pages_beyond_total = 0\n"))
    integration = loaded.integrations[0]
    assert (integration.request_deadline, integration.max_response_bytes, integration.pages_beyond_total) == (
        60.0, 1048576, 0)
    message = error_of(tmp_path, fake("Limits") + 'max_response_bytes = "64 MB"\n')
    assert message.endswith('integrations[1] ("Limits"): max_response_bytes must be a whole number of bytes, '
                            "got '64 MB'")


def test_rate_account_names_what_two_integrations_share(tmp_path):
    text = fake("One", rate_account=" acme-autotask ") + fake("Two", rate_account="acme-autotask") + fake("Three")
    one, two, three = load_config(write(tmp_path, text)).integrations
    assert one.rate_account == two.rate_account == "acme-autotask" and three.rate_account is None
