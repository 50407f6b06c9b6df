"""Health checks for ``syncview doctor``: is the config sound, do the secrets resolve, is the
store healthy, can each integration reach its product?

Every check returns :class:`Finding` objects that say, in one line each, what is wrong
and what to do. Nothing here prints, and nothing here writes but the leases of the
connectivity check's own requests (store/leases.py: they count against each integration's
limits with every sync on the store): the store is opened read-only for its checks (a missing
store stays missing, an older one is not migrated) and secrets are resolved only to prove
they resolve, their values never kept in a finding.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path

from syncview.config import Config, IntegrationConfig, resolve_secret, resolve_settings, warn_if_readable_by_others
from syncview.connectors.base import Connector
from syncview.connectors.limits import RateBudget
from syncview.errors import SyncviewError
from syncview.store.db import APPLICATION_ID, SCHEMA_VERSION, connect
from syncview.store.dialect import is_store_url, shown_url

#: Free space under which the store's disk is reported: a sync writes pages and a WAL beside them.
MIN_FREE_BYTES = 200 * 1024 * 1024
#: Longest the connectivity check waits for one answer, in seconds (the integration's own
#: timeout when it is shorter).
CHECK_TIMEOUT_S = 10.0
_SQLITE_HEADER = b"SQLite format 3\x00"


@dataclass(frozen=True, slots=True)
class Finding:
    """The result of one check: ``ok``, or a problem and how to fix it, in ``message``."""

    area: str  # config, secrets, store, connectivity
    subject: str  # what was checked: a file, an integration
    ok: bool
    message: str

    def line(self) -> str:
        return f"{self.area}: {self.subject}: {self.message}" if self.subject else f"{self.area}: {self.message}"


def check_config(config: Config | None, error: SyncviewError | None) -> Iterator[Finding]:
    """The config parsed and checked whole (``error`` is what loading it raised, if anything),
    and whether other users can read or write it."""
    subject = str(config.path) if config and config.path else ""
    if error is not None:  # its message names the file
        yield Finding("config", subject, False, str(error))
        return
    assert config is not None
    if config.path is None:
        yield Finding("config", subject, True, "no config file; only the demo integrations are available")
        return
    warning = warn_if_readable_by_others(config)
    if warning:
        yield Finding("config", subject, False, warning)
    else:
        count = len(config.integrations)
        yield Finding("config", subject, True, f"parsed; {count} integration{'s' if count != 1 else ''}")


def check_secrets(config: Config, environ: Mapping[str, str] = os.environ) -> Iterator[Finding]:
    """Every secret reference of every integration resolves (values are not kept)."""
    for integration in config.integrations:
        try:
            resolve_settings(integration, environ=environ)
        except SyncviewError as error:  # SecretError names the integration, setting and reference
            yield Finding("secrets", integration.name, False, str(error))
        else:
            yield Finding("secrets", integration.name, True, "every secret reference resolves")


def check_database(url: str, password: str | None = None) -> Iterator[Finding]:
    """A store on a database server: reachable, ours, a schema this syncview reads (read only).
    The file checks (integrity, journal, disk) are the server's business there."""
    from syncview.store.pg import describe

    subject = str(shown_url(url))
    try:
        yield Finding("store", subject, True, describe(url, password=password))
    except SyncviewError as error:
        yield Finding("store", subject, False, str(error))
        return
    yield from _check_team(url, password, subject)


def _check_team(url: str, password: str | None, subject: str) -> Iterator[Finding]:
    """What a team store adds: may this user write it, which syncs hold their lock now, and what
    doctor, backup and restore do on PostgreSQL."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from syncview.store.locks import running_syncs
    from syncview.store.pg import engine_for, translate_pg

    engine, shown = engine_for(url, password=password)
    try:
        with engine.connect() as conn:
            if conn.execute(text("SELECT to_regclass('resource') IS NULL")).scalar():
                return  # an empty database: nothing more to say than describe did
            writable = conn.execute(text("SELECT has_table_privilege(current_user, 'resource', 'UPDATE')"
                                         " AND has_table_privilege(current_user, 'audit_event', 'INSERT')")).scalar()
            user = conn.execute(text("SELECT current_user")).scalar()
            running = running_syncs(conn)
    except DBAPIError as error:
        yield Finding("store", subject, False, str(translate_pg(error, shown)))
        return
    finally:
        engine.dispose()
    if writable:
        yield Finding("store", subject, True, f"the user {user} may read and change it")
    else:
        yield Finding("store", subject, False, f"the user {user} may only read it: actions and syncs will fail; "
                      "grant it the store's tables, or connect as the database's owner")
    held = ", ".join(f"{name} ({who})" for name, who in running)
    yield Finding("store", subject, True, f"syncs running now, from any machine: {held}" if held
                  else "no sync is running now (no integration's sync lock is held)")
    yield Finding("store", subject, True, "on PostgreSQL doctor checks the connection, the schema, the user's "
                  "rights and the sync locks; page integrity, disk space and the write-ahead log are the server's "
                  "to watch. `syncview backup PATH` writes a self-contained SQLite copy; `syncview restore BACKUP` "
                  "replaces the rows in one transaction, keeping the previous ones as an SQLite copy")


def check_store(path: Path) -> Iterator[Finding]:
    """The store file: ours, a schema this syncview reads, intact, in WAL mode, writable, room to grow."""
    subject = str(path)
    if not path.exists():
        yield Finding("store", subject, True, "no store yet; it is created on first use")
        yield from _check_disk(path.parent if path.parent.exists() else Path(path.anchor or "."), subject)
        return
    if path.is_dir():
        yield Finding("store", subject, False, "is a directory; point --db at a store file")
        return
    if not path.is_file():  # a pipe would block the read below
        yield Finding("store", subject, False, "is not a regular file (a device or a pipe); point --db at a store file")
        return
    if path.stat().st_size == 0:  # an empty file: opening the store initialises it
        yield Finding("store", subject, True, "is an empty file; syncview makes it a store on first use")
        yield from _check_disk(path.parent, subject)
        return
    with path.open("rb") as handle:
        if handle.read(len(_SQLITE_HEADER)) != _SQLITE_HEADER:
            yield Finding("store", subject, False, "is not an SQLite database; point --db at a syncview store, "
                          "or restore one with `syncview restore BACKUP`")
            return
    try:
        with closing(connect(path, read_only=True, timeout=5.0)) as conn:  # the file --db names, as the store
            yield from _check_open_store(conn, subject)
    except sqlite3.DatabaseError as error:
        yield Finding("store", subject, False, f"cannot be read ({error}); restore a backup with "
                      "`syncview restore BACKUP`")
        return
    if not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK):
        yield Finding("store", subject, False, "is read-only for this user; syncs and actions will fail: "
                      "fix the permissions of the file and its directory")
    yield from _check_disk(path.parent, subject)


def _check_open_store(conn: sqlite3.Connection, subject: str) -> Iterator[Finding]:
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if app_id != APPLICATION_ID:
        yield Finding("store", subject, False, "is an SQLite database but not a syncview store; point --db elsewhere")
        return
    if version > SCHEMA_VERSION:
        yield Finding("store", subject, False, f"was written by a newer syncview (schema {version}; this one reads "
                      f"up to {SCHEMA_VERSION}); upgrade syncview")
        return
    problems = [row[0] for row in conn.execute("PRAGMA integrity_check(5)")]
    if problems != ["ok"]:
        yield Finding("store", subject, False, f"is damaged (integrity check: {'; '.join(problems)}); restore a "
                      "backup with `syncview restore BACKUP`")
        return
    mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    notes = [f"schema {version}", "integrity ok", f"journal {mode}"]
    if version < SCHEMA_VERSION:
        notes.append(f"migrated to schema {SCHEMA_VERSION} on next use (after a backup beside it)")
    yield Finding("store", subject, True, ", ".join(notes))
    if mode != "wal":
        yield Finding("store", subject, False, f"journal mode is {mode}, not wal: the screen cannot read while a "
                      "sync writes; open it once with syncview (not read-only) to switch it")


def _check_disk(directory: Path, subject: str) -> Iterator[Finding]:
    try:
        free = shutil.disk_usage(directory).free
    except OSError as error:
        yield Finding("store", subject, False, f"cannot tell the free disk space ({error.strerror or error})")
        return
    if free < MIN_FREE_BYTES:
        yield Finding("store", subject, False, f"only {free / 2**20:.0f} MB free on its disk; free some space "
                      "before syncing (a full disk stops a sync)")
    else:
        yield Finding("store", subject, True, f"{free / 2**30:.1f} GB free on its disk")


def check_connectivity(config: Config, environ: Mapping[str, str] = os.environ,
                       budget: RateBudget | None = None) -> Iterator[Finding]:
    """For each enabled integration, ask for a first page (``Connector.reach``: as few requests
    as the product allows) with a short timeout, and for what the product says of its limits
    (``Connector.usage``); within the integration's rate shared through ``budget`` (the
    store's) with the syncs of every process on it."""
    # Imported here: the sync engine pulls in SQLAlchemy and every connector's dependencies.
    from syncview.services.sync import build_connector

    for integration in config.integrations:
        if not integration.enabled:
            yield Finding("connectivity", integration.name, True, "disabled; not checked")
            continue
        yield _reach(integration, environ, build_connector, budget)


def _reach(integration: IntegrationConfig, environ: Mapping[str, str],
           build_connector: Callable[..., Connector], budget: RateBudget | None) -> Finding:
    quick = replace(integration, timeout=min(integration.timeout, CHECK_TIMEOUT_S))
    try:
        with build_connector(quick, environ=environ, budget=budget) as connector:
            held = connector.reach()
            try:
                usage = connector.usage()
            except SyncviewError:  # what the product says of its limits is extra: it answered
                usage = None
    except SyncviewError as error:  # connector errors are redacted and name the integration
        return Finding("connectivity", integration.name, False, str(error))
    except Exception as error:  # a connector bug must not hide the other checks
        return Finding("connectivity", integration.name, False,
                       f"the {integration.kind} connector failed unexpectedly ({type(error).__name__}); "
                       "run `syncview sync` for details")
    got = "answered" if held else "answered with an empty first page"
    return Finding("connectivity", integration.name, True, f"{got}; {usage}" if usage else got)


def run_checks(config: Config | None, config_error: SyncviewError | None, store_path: Path | str, *,
               connectivity: bool = True, environ: Mapping[str, str] = os.environ) -> list[Finding]:
    """Every check, in the order an operator fixes things: config, secrets, store, network.

    ``store_path``: the store file, or the URL of a store on a database server."""
    findings = list(check_config(config, config_error))
    if config is not None:
        findings += check_secrets(config, environ)
    password = None
    if is_store_url(store_path):
        if config is not None and config.store_password:
            try:
                password = resolve_secret(config.store_password, environ=environ)
            except SyncviewError as error:
                findings.append(Finding("secrets", "store.password", False, str(error)))
        findings += check_database(str(store_path), password)
    else:
        findings += check_store(Path(store_path))
    if config is not None and connectivity:
        # An integration whose secrets do not resolve cannot connect: say so once, above.
        broken = {f.subject for f in findings if f.area == "secrets" and not f.ok}
        usable = replace(config, integrations=tuple(i for i in config.integrations if i.name not in broken))
        # The doctor's requests count against each integration's limits with every sync on the
        # store: when the store exists at this schema and its checks passed (the doctor creates,
        # migrates and repairs nothing, and writes nothing to a store it found wanting).
        from syncview.store.leases import open_budget

        healthy = all(f.ok for f in findings if f.area == "store")
        budget = open_budget(store_path, password=password) if healthy else None
        try:
            findings += check_connectivity(usable, environ, budget)
        finally:
            if budget is not None:
                budget.store.close()
    return findings
