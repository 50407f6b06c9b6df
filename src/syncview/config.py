"""The operator's config file: where it is, what it says, and the secrets it points to.

The file is TOML. It is checked whole at load, so a typo fails at start-up with
the file and key named rather than half-way through a sync. Secrets are never
written in it: a secret setting holds a reference (``env:VAR``,
``keyring:service/user`` or ``cmd:program args``) that is resolved only when a
connector is about to use it, so the values never sit in a ``Config``, the store
or an error message.
"""

from __future__ import annotations

import difflib
import os
import re
import shlex
import stat
import tomllib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from syncview import bounded
from syncview.connectors import registry
from syncview.connectors.base import Setting
from syncview.domain import integration_key, integration_name
from syncview.errors import ConfigError, SecretError
from syncview.identity import DEFAULT_IDENTITY, IdentityRules, normalise_mac
from syncview.redaction import remember

ENV_VAR = "SYNCVIEW_CONFIG"
REFERENCE_PREFIXES = ("env:", "keyring:", "cmd:")
#: Seconds a ``cmd:`` reference may take; a password manager waiting for a PIN must not hang a sync.
CMD_TIMEOUT = 10.0
#: Keys of every ``[[integrations]]`` table, whatever its kind.
GENERIC_KEYS = ("name", "kind", "create_missing", "enabled", "rate_limit", "concurrency", "rate_account",
                "timeout", "request_deadline", "max_response_bytes", "pages_beyond_total", "match_on")
_TOP_KEYS = ("store", "ui", "operator", "keymap", "identity", "integrations")
#: The matching rules a sync applies, in order, unless an integration's ``match_on`` says otherwise.
MATCH_RULES = ("xref", "serial", "mac", "email", "name")
_IDENTITY_KEYS = ("placeholder_serials", "placeholder_macs")
#: Setting names whose plain values are worth keeping from other users' eyes (see warn_if_readable_by_others).
_CREDENTIAL_NAME = re.compile(r"key|token|secret|password|passwd|credential", re.IGNORECASE)


@dataclass(frozen=True)
class IntegrationConfig:
    """One ``[[integrations]]`` table, checked against its connector's settings."""

    name: str
    kind: str
    #: Connector settings as written; secret ones are still references ("env:X").
    settings: dict[str, Any]
    #: Create local records for unmatched remote items on sync.
    create_missing: bool = False
    enabled: bool = True
    #: Requests per minute; None keeps the connector's default (connectors/limits.py).
    rate_limit: float | None = None
    #: Requests in flight at once; None keeps the connector's default.
    concurrency: int | None = None
    #: What the product counts the requests against, when the connector cannot tell (two API
    #: users of one Autotask database): integrations naming the same share one rate and bound.
    rate_account: str | None = None
    #: HTTP timeout in seconds, for each connect and each read.
    timeout: float = 30.0
    #: Seconds one HTTP request may take in all (None: the HTTP layer's default).
    request_deadline: float | None = None
    #: Largest HTTP answer, decoded, in bytes (None: the HTTP layer's default).
    max_response_bytes: int | None = None
    #: Pages an entity may bring after the total its product reported (None: the engine's default).
    pages_beyond_total: int | None = None
    #: The matching rules a sync applies to this integration's items, in order.
    match_on: tuple[str, ...] = MATCH_RULES
    #: Placeholder values that are no identity (the built-in lists plus the config's ``[identity]``).
    identity: IdentityRules = DEFAULT_IDENTITY


@dataclass(frozen=True)
class Config:
    """The whole config file; ``path`` is None when there was no file."""

    path: Path | None
    integrations: tuple[IntegrationConfig, ...] = ()
    #: the store: an SQLite file's path, or a database URL as written (``postgresql://...``)
    store_path: Path | str | None = None
    theme: str | None = None
    #: Binding id -> key(s), handed to the TUI's keymap.
    keymap: dict[str, str] = field(default_factory=dict)
    #: Placeholder values that are no identity: the built-in lists plus the ``[identity]`` section.
    identity: IdentityRules = DEFAULT_IDENTITY
    #: a reference (env:, keyring:, cmd:) to the database password of a store given by URL
    store_password: str | None = None
    #: The name an operator's actions are audited under (``[operator] name``); None: the login name.
    operator: str | None = None
    #: Whether an open screen shows other processes' changes by itself (``[ui] live_updates``).
    live_updates: bool = True

    def integration(self, name: str) -> IntegrationConfig:
        """The configured integration called ``name``; see :func:`integration_named`."""
        return integration_named(self.integrations, name, str(self.path or "the config"))


def integration_named(integrations: Sequence[IntegrationConfig], name: str, where: str) -> IntegrationConfig:
    """The integration called ``name`` (exactly, else in any case) among ``integrations``;
    ConfigError naming the ones there are (``where`` says where they come from) if none is."""
    exact, key = integration_name(name), integration_key(name)
    for integration in integrations:
        if integration.name == exact:
            return integration
    for integration in integrations:
        if integration_key(integration.name) == key:
            return integration
    names = [i.name for i in integrations]
    known = ", ".join(f'"{n}"' for n in names) or "none"
    raise ConfigError(f'no integration named "{name}"{did_you_mean(name, names)} in {where}; known: {known}')


class UnknownKindError(ConfigError):
    """No connector is registered under this kind."""

    def __init__(self, kind: str, known: list[str]) -> None:
        self.kind, self.known = kind, sorted(known)
        listed = ", ".join(self.known) or "none installed"
        super().__init__(f'kind "{kind}" is unknown{did_you_mean(kind, self.known)}; known kinds: {listed}')


def settings_schema_for(kind: str) -> tuple[Setting, ...]:
    """The settings a connector kind declares; the one place config looks connectors up."""
    kinds = registry.available()
    if kind not in kinds:
        raise UnknownKindError(kind, list(kinds))
    try:
        return tuple(registry.load(kind).settings_schema)
    except ImportError as error:
        raise ConfigError(f'connector "{kind}" cannot be loaded ({error}); reinstall syncview or its plugin') from None


def default_config_path() -> Path:
    """``config.toml`` in the user's config directory (``~/.config/syncview`` on Linux)."""
    return platformdirs.user_config_path("syncview") / "config.toml"


def find_config_path(explicit: Path | None = None, environ: Mapping[str, str] = os.environ) -> tuple[Path | None, bool]:
    """Where the config is and whether the operator asked for it: --config, then SYNCVIEW_CONFIG, then the default."""
    if explicit is not None:
        return Path(explicit).expanduser(), True
    if environ.get(ENV_VAR):
        return Path(environ[ENV_VAR]).expanduser(), True
    default = default_config_path()
    return (default, False) if default.exists() else (None, False)


def load_config(explicit: Path | None = None, environ: Mapping[str, str] = os.environ) -> Config:
    """Find, read and check the config; no file at the default place is an empty config."""
    path, asked = find_config_path(explicit, environ)
    if path is None:
        return Config(path=None)
    if asked and not path.exists():
        raise ConfigError(f"config file {path} does not exist (asked for by --config or {ENV_VAR}); "
                          "fix the path, or start from config.example.toml")
    try:
        # Bounded: a config linked to /dev/zero or a FIFO must fail with a line, not eat memory or hang.
        text = bounded.read_file(path, limit=bounded.MAX_CONFIG_BYTES).decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"config error in {path}: the file is not UTF-8 text; save it as UTF-8") from None
    except ValueError as error:
        raise ConfigError(f"config file {path} is {error}; point --config or {ENV_VAR} at the config file "
                          "itself") from None
    except bounded.TooLarge as error:
        raise ConfigError(f"config file {path} is larger than {bounded.size(error.limit)}, too large for a config; "
                          f"point --config or {ENV_VAR} at the config file itself") from None
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror or error}") from None
    return parse_config(text, path)


def parse_config(text: str, path: Path | None = None) -> Config:
    """Parse and check config text; ``path`` names the file in errors and anchors a relative store path."""
    where = f"config error in {path}" if path else "config error"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        # tomllib ends its message with "(at line 4, column 9)"; operators read the position first.
        message, _, at = str(error).rpartition(" (at ")
        found = re.fullmatch(r"line (\d+), column (\d+)\)", at)
        position = f", line {found[1]}, column {found[2]}" if found else ", at the end of the file"
        if not message:  # no position given: keep the message whole
            message, position = str(error), ""
        if message == "Invalid value" and found:  # what tomllib says of a bare word, the usual slip
            message += ' (is it text? text needs double quotes: key = "value")'
        raise ConfigError(f"{where}{position}: {message[:1].lower()}{message[1:]}") from None
    try:
        return _config(data, path)
    except _Invalid as error:
        raise ConfigError(f"{where}: {error}") from None


class _Invalid(Exception):
    """A problem at a key path; parse_config adds the file name."""


def _config(data: dict[str, Any], path: Path | None) -> Config:
    _check_keys(data, _TOP_KEYS, "")
    store, ui = _table(data, "store"), _table(data, "ui")
    _check_keys(store, ("path", "password"), "store: ")
    _check_keys(ui, ("theme", "live_updates"), "ui: ")
    operator_table = _table(data, "operator")
    _check_keys(operator_table, ("name",), "operator: ")
    operator = _operator_name(operator_table["name"]) if "name" in operator_table else None
    live_updates = ui.get("live_updates", True)
    if not isinstance(live_updates, bool):
        raise _Invalid(f"ui.live_updates must be true or false, got {live_updates!r}")
    store_path: Path | str | None = None
    if "path" in store:
        written = _string(store["path"], "store.path")
        if "://" in written:
            if _url_password(written):
                raise _Invalid('store.path holds a password; it must not be written in the file: remove it from '
                               'the URL and write password = "env:VAR" under [store] (or use PGPASSWORD or ~/.pgpass)')
            store_path = written  # a database URL: the store says which it can open
        else:
            store_path = Path(written).expanduser()
            if not store_path.is_absolute() and path is not None:
                store_path = path.parent / store_path  # relative to the file, not to wherever syncview was started
    store_password = None
    if "password" in store:
        store_password = _string(store["password"], "store.password")
        if not is_secret_reference(store_password):
            # Never echoed: it may be the password itself.
            raise _Invalid('store.password is a secret and must not be written in the file; write '
                           'password = "env:PGPASSWORD_VAR" or "keyring:syncview/store" (or leave it out: '
                           'PGPASSWORD and ~/.pgpass work too)')
        problem = _reference_problem(store_password)
        if problem:
            raise _Invalid(f"store.password: {problem}")
    theme = _string(ui["theme"], "ui.theme") if "theme" in ui else None
    keymap = {str(k): _string(v, f"keymap.{k}") for k, v in _table(data, "keymap").items()}
    rules = _identity(_table(data, "identity"))

    tables = data.get("integrations", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise _Invalid("integrations must be written as [[integrations]] tables (double brackets), one per integration")
    integrations: list[IntegrationConfig] = []
    numbers: dict[str, int] = {}  # name key -> the table that has it: one look-up per table, not a scan
    for number, table in enumerate(tables, start=1):
        integration = _integration(table, number, rules)
        # Case-blind, or "syncview sync cw" could mean either of two integrations.
        earlier = numbers.setdefault(integration_key(integration.name), number)
        if earlier != number:
            raise _Invalid(f'integrations[{number}]: name "{integration.name}" is already used by '
                           f"integrations[{earlier}]; every integration needs its own name")
        integrations.append(integration)
    return Config(path, tuple(integrations), store_path, theme, keymap, rules, store_password, operator, live_updates)


#: Longest operator name: it is shown in history, logs and "changed by ..." lines.
OPERATOR_NAME_LIMIT = 64


def _operator_name(value: Any) -> str:
    """``[operator] name``: one printable line, as the audit trail and every "changed by" shows it."""
    name = _string(value, "operator.name").strip()
    if not name or len(name) > OPERATOR_NAME_LIMIT or not name.isprintable():
        raise _Invalid(f"operator.name must be a name of 1 to {OPERATOR_NAME_LIMIT} printable characters "
                       f'(e.g. name = "alice"), got {value!r}')
    return name


#: Longest rate_account: it names leases in the store and shows in their errors.
RATE_ACCOUNT_LIMIT = 100


def _rate_account(value: Any, label: str) -> str:
    """``rate_account``: one printable line naming the account a product counts requests against."""
    account = value.strip() if isinstance(value, str) else ""
    if not account or len(account) > RATE_ACCOUNT_LIMIT or not account.isprintable():
        raise _Invalid(f"{label}: rate_account must be a name of 1 to {RATE_ACCOUNT_LIMIT} printable characters, "
                       f'the same on every integration of one vendor account (e.g. rate_account = "autotask-prod"), '
                       f"got {value!r}")
    return account


def _identity(table: dict[str, Any]) -> IdentityRules:
    """The ``[identity]`` section: placeholder values added to the built-in lists."""
    _check_keys(table, _IDENTITY_KEYS, "identity: ")
    lists: dict[str, tuple[str, ...]] = {}
    for key in _IDENTITY_KEYS:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise _Invalid(f'identity.{key} must be a list of non-empty strings, e.g. {key} = ["ASSET-TBD"], '
                           f"got {value!r}")
        lists[key] = tuple(value)
    for mac in lists["placeholder_macs"]:
        if normalise_mac(mac) is None:
            raise _Invalid(f"identity.placeholder_macs: {mac!r} is not a MAC address; write 12 hex digits in any "
                           'notation, e.g. "00:11:22:33:44:55"')
    if not any(lists.values()):
        return DEFAULT_IDENTITY
    return IdentityRules(lists["placeholder_serials"], lists["placeholder_macs"])


def _match_on(value: Any, label: str) -> tuple[str, ...]:
    """An integration's ``match_on``: matching rules from MATCH_RULES, each at most once, in order."""
    wanted = f'a list of rules from {", ".join(MATCH_RULES)}, e.g. match_on = ["serial", "name"]'
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Invalid(f"{label}: match_on must be {wanted}; got {value!r}")
    for rule in value:
        if rule not in MATCH_RULES:
            raise _Invalid(f"{label}: match_on has unknown rule {rule!r}{did_you_mean(rule, MATCH_RULES)}; "
                           f"expected {wanted}")
    if len(set(value)) != len(value):
        raise _Invalid(f"{label}: match_on names a rule twice ({value!r}); give each rule once, in the order wanted")
    return tuple(value)


def _integration(table: dict[str, Any], number: int, rules: IdentityRules = DEFAULT_IDENTITY) -> IntegrationConfig:
    """Check one [[integrations]] table, numbered from 1 as an operator counts them in the file."""
    label = f"integrations[{number}]"
    name = table.get("name")
    if isinstance(name, str):
        name = integration_name(name)  # one name however it was typed or pasted (see domain.py)
    if not isinstance(name, str) or not name:
        raise _Invalid(f'{label}: name is missing or empty; give each integration a name, e.g. name = "ConnectWise"')
    label = f'{label} ("{name}")'
    kind = table.get("kind")
    if not isinstance(kind, str) or not kind:
        raise _Invalid(f'{label}: kind is missing; set it to a connector, e.g. kind = "connectwise"')
    try:
        schema = {s.name: s for s in settings_schema_for(kind)}
    except ConfigError as error:
        raise _Invalid(f"{label}: {error}") from None
    _check_keys(table, (*GENERIC_KEYS, *schema), f"{label}: ")
    missing = [s.name for s in schema.values() if s.required and s.default is None and s.name not in table]
    if missing:
        raise _Invalid(f'{label}: missing required setting(s) for kind "{kind}": {", ".join(missing)}')
    settings = {key: _setting(schema[key], value, label, name) for key, value in table.items() if key in schema}
    options: dict[str, Any] = {}
    for key in ("create_missing", "enabled"):
        if key in table:
            if not isinstance(table[key], bool):
                raise _Invalid(f"{label}: {key} must be true or false, got {table[key]!r}")
            options[key] = table[key]
    if "concurrency" in table:
        value = table["concurrency"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise _Invalid(f"{label}: concurrency must be a whole number of requests at once, 1 or more, "
                           f"got {value!r}")
        options["concurrency"] = value
    if "rate_account" in table:
        options["rate_account"] = _rate_account(table["rate_account"], label)
    for key, unit in (("rate_limit", "requests per minute"), ("timeout", "seconds"),
                      ("request_deadline", "seconds")):
        if key in table:
            value = table[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise _Invalid(f"{label}: {key} must be a positive number of {unit}, got {value!r}")
            options[key] = float(value)
    for key, unit in (("max_response_bytes", "bytes"), ("pages_beyond_total", "pages")):
        if key in table:
            value = table[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < (1 if key == "max_response_bytes"
                                                                                else 0):
                raise _Invalid(f"{label}: {key} must be a whole number of {unit}, got {value!r}")
            options[key] = value
    if "match_on" in table:
        options["match_on"] = _match_on(table["match_on"], label)
    return IntegrationConfig(name=name, kind=kind, settings=settings, identity=rules, **options)


def _setting(setting: Setting, value: Any, label: str, name: str) -> Any:
    key = f"{label}: {setting.name}"
    if setting.secret:
        # Never echo the value: a secret written in the file would spread to logs and terminals.
        if not (isinstance(value, str) and is_secret_reference(value)):
            var = re.sub(r"[^A-Z0-9]+", "_", f"{name}_{setting.name}".upper()).strip("_")
            raise _Invalid(f"{key} is a secret and must not be written in the file; move it to an environment "
                           f'variable and write {setting.name} = "env:{var}", or to the keyring '
                           f'(keyring set syncview "{name}") and write {setting.name} = "keyring:syncview/{name}", '
                           f'or fetch it with a command: {setting.name} = "cmd:pass show ..."')
        problem = _reference_problem(value)
        if problem:
            raise _Invalid(f"{key}: {problem}")
    elif setting.type == "int" and (isinstance(value, bool) or not isinstance(value, int)):
        raise _Invalid(f"{key} must be a whole number, got {value!r}")
    elif setting.type == "bool" and not isinstance(value, bool):
        raise _Invalid(f"{key} must be true or false, got {value!r}")
    elif setting.type == "list" and (not isinstance(value, list)
                                     or not all(isinstance(v, str) and v.strip() for v in value)):
        raise _Invalid(f'{key} must be a list of names, e.g. ["Client", "Partner"], got {value!r}')
    elif setting.type in ("str", "url", "path") and (not isinstance(value, str) or not value.strip()):
        raise _Invalid(f"{key} must be a non-empty string, got {value!r}")
    elif setting.type == "url" and not value.startswith(("http://", "https://")):
        raise _Invalid(f"{key} must be a URL starting with https:// (or http://), got {value!r}")
    return value


def _url_password(url: str) -> bool:
    """Whether a URL holds a password (``scheme://user:password@host``)."""
    from urllib.parse import urlsplit

    try:
        return bool(urlsplit(url).password)
    except ValueError:
        return False


def is_secret_reference(value: str) -> bool:
    """Whether ``value`` points to a secret (``env:``, ``keyring:``, ``cmd:``) rather than being one."""
    return isinstance(value, str) and value.startswith(REFERENCE_PREFIXES)


def _reference_problem(reference: str) -> str | None:
    """What is wrong with a reference's shape, checked at load so typos fail early; None if fine."""
    scheme, _, rest = reference.partition(":")
    if scheme == "env" and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", rest):
        return f'reference "{reference}" needs an environment variable name, e.g. "env:CW_PRIVATE_KEY"'
    if scheme == "keyring":
        service, _, user = rest.partition("/")
        if not service or not user:
            return f'reference "{reference}" needs a keyring service and user, e.g. "keyring:syncview/ConnectWise"'
    if scheme == "cmd":
        try:
            argv = shlex.split(rest)
        except ValueError as error:
            return f'reference "{reference}" is not a valid command line ({error})'
        if not argv:
            return f'reference "{reference}" needs a command, e.g. "cmd:pass show msp/connectwise"'
    return None


def resolve_secret(reference: str, *, environ: Mapping[str, str] = os.environ) -> str:
    """The secret a reference points to; SecretError (naming the reference, never the value) if unavailable."""
    if not is_secret_reference(reference):
        # Not echoed: a caller may have passed the secret itself.
        raise SecretError("the value is not a secret reference; "
                          "write env:VAR, keyring:service/user or cmd:program args")
    problem = _reference_problem(reference)
    if problem:
        raise SecretError(problem)
    scheme, _, rest = reference.partition(":")
    if scheme == "env":
        if rest not in environ:
            raise SecretError(f'"{reference}": environment variable {rest} is not set; '
                              "export it before starting syncview")
        value = environ[rest]
    elif scheme == "keyring":
        value = _from_keyring(reference, *rest.partition("/")[::2])
    else:
        value = _from_command(reference, shlex.split(rest))
    if not value:
        raise SecretError(f'"{reference}" gives an empty secret; set the value it points to')
    remember(value)  # from now on masked wherever this process shows or stores text
    return value


def _from_keyring(reference: str, service: str, user: str) -> str:
    import keyring  # deferred: finding a backend is slow and only needed when a keyring secret is used

    try:
        value = keyring.get_password(service, user)
    except Exception as error:  # backends raise their own types (dbus, secretstorage...), not just KeyringError
        raise SecretError(f'"{reference}": the system keyring is not available ({type(error).__name__}: {error}); '
                          "install a keyring backend, or use an env: reference instead") from None
    if value is None:
        raise SecretError(f'"{reference}": no keyring entry for service "{service}", user "{user}"; '
                          f'add it with: keyring set {shlex.quote(service)} {shlex.quote(user)}')
    return value


def _from_command(reference: str, argv: list[str]) -> str:
    program = argv[0]
    try:
        # No shell, so nothing in the reference is interpreted twice; output is captured, never
        # shown; the command runs without a terminal and is killed past its time or size.
        status, output = bounded.run_command(argv, timeout=CMD_TIMEOUT, limit=bounded.MAX_COMMAND_BYTES)
    except FileNotFoundError:
        raise SecretError(f'"{reference}": program {program} was not found; install it or fix the PATH') from None
    except bounded.TooSlow:
        raise SecretError(f'"{reference}": {program} did not finish within {CMD_TIMEOUT:g} s and was stopped; '
                          "make sure it does not wait for input") from None
    except bounded.TooLarge as error:
        raise SecretError(f'"{reference}": {program} printed more than {bounded.size(error.limit)}, more than '
                          "any secret; make it print the secret alone") from None
    except OSError as error:
        raise SecretError(f'"{reference}": {program} could not run ({error.strerror or error})') from None
    if status != 0:
        raise SecretError(f'"{reference}": {program} failed with exit status {status}; '
                          "run it yourself to see why")
    text = output.decode("utf-8", errors="replace").replace("\r\n", "\n")
    return text.removesuffix("\n")


def resolve_settings(integration: IntegrationConfig, *, environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """The settings a connector gets: every declared one present (defaults applied), secrets resolved."""
    resolved = dict(integration.settings)
    for setting in settings_schema_for(integration.kind):
        value = resolved.setdefault(setting.name, setting.default)
        if setting.secret and is_secret_reference(value):
            try:
                resolved[setting.name] = resolve_secret(value, environ=environ)
            except SecretError as error:
                raise SecretError(f'integration "{integration.name}", setting {setting.name}: {error}') from None
        elif setting.type == "path" and isinstance(value, str):
            resolved[setting.name] = str(Path(value).expanduser())
    return resolved


def warn_if_readable_by_others(config: Config) -> str | None:
    """A warning when other users can read a config that tells them something useful, or can write it.

    ``env:`` and ``keyring:`` references only name where a secret lives, and most
    files are created 0644, so warning on them would teach operators to ignore the
    warning. A ``cmd:`` reference shows how to fetch a secret, and a plain value in
    a credential-like setting (``api_key``, ``public_key``) is half a credential:
    those are worth a warning. A file others can write is always worth one, since
    a ``cmd:`` reference added to it runs as the operator.
    """
    if config.path is None or os.name == "nt":  # Windows modes do not say who can read
        return None
    try:
        mode = config.path.stat().st_mode
    except OSError:
        return None
    fix = f"run: chmod 600 {shlex.quote(str(config.path))}"
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"config file {config.path} can be written by other users (mode {mode & 0o777:04o}); {fix}"
    if not mode & (stat.S_IRGRP | stat.S_IROTH):
        return None
    sensitive = []
    for integration in config.integrations:
        for key, value in integration.settings.items():
            if not isinstance(value, str):
                continue
            if value.startswith("cmd:") or (_CREDENTIAL_NAME.search(key) and not is_secret_reference(value)):
                sensitive.append(f'"{integration.name}".{key}')
    if not sensitive:
        return None
    return (f"config file {config.path} can be read by other users (mode {mode & 0o777:04o}) and holds "
            f"credential details ({', '.join(sensitive)}); {fix}")


def _check_keys(table: Mapping[str, Any], allowed: Collection[str], prefix: str) -> None:
    for key in table:
        if key not in allowed:
            raise _Invalid(f"{prefix}unknown key {key!r}{did_you_mean(key, allowed)}; "
                           f"expected one of: {', '.join(allowed)}")


def _table(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise _Invalid(f"{key} must be a table, written [{key}]")
    return value


def _string(value: Any, key: str) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"{key} must be a string, got {value!r}")
    return value


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f' (did you mean "{close[0]}"?)' if close else ""
