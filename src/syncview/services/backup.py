"""Backups of the store, and restoring one, while other syncview processes may be using it.

Both go through SQLite's online backup API rather than copying files: a file copy
taken while a sync commits can pair a database file with half of its write-ahead
log, whereas the backup API copies one consistent snapshot (a single read
transaction; in WAL mode writers go on meanwhile). Restoring copies *into* the
live store through the same API, as one write transaction: other processes see
either the old store or the restored one, never a mix, and their open connections
stay valid (a TUI that had the store open simply reads the restored data next, and
any action it carries with an old version is refused as stale).

No Textual and no click here: the CLI (``syncview backup`` / ``restore``) and any
other face call these functions and show the :class:`~syncview.errors.SyncviewError`
they raise as one line.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, select
from sqlalchemy.pool import StaticPool
from sqlmodel import SQLModel

from syncview.errors import StoreError
from syncview.store import Store, derived, open_store
from syncview.store.db import APPLICATION_ID, BUSY_TIMEOUT_S, SCHEMA_VERSION, connect, remove_sqlite_file
from syncview.store.models import meta_table

_SQLITE_HEADER = b"SQLite format 3\x00"
#: Where ``restore`` keeps the store it replaces: ``<store>`` + this suffix.
BEFORE_RESTORE_SUFFIX = ".before-restore.bak"


@dataclass(frozen=True, slots=True)
class StoreFacts:
    """What a store file says about itself, read without changing it."""

    path: Path
    schema_version: int
    resources: int
    size: int


@dataclass(frozen=True, slots=True)
class RestoreReport:
    restored: StoreFacts
    #: where the replaced store was saved; None when there was no store to replace
    previous: Path | None


def inspect_store(path: Path, *, check_integrity: bool = True) -> StoreFacts:
    """Check that ``path`` is a syncview store this syncview can read; StoreError saying why not.

    Opened read-only (``mode=ro``), so inspecting a backup never turns it into a WAL
    file or migrates it.
    """
    if not path.is_file():
        raise StoreError(f"{path} does not exist or is not a file")
    with path.open("rb") as handle:
        if handle.read(len(_SQLITE_HEADER)) != _SQLITE_HEADER:
            raise StoreError(f"{path} is not a syncview store (not an SQLite database)")
    try:
        with closing(_connect(path, read_only=True)) as conn:
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if app_id != APPLICATION_ID:
                raise StoreError(f"{path} is an SQLite database but not a syncview store")
            if version > SCHEMA_VERSION:
                raise StoreError(f"{path} was written by a newer syncview (schema {version}; this one reads up to "
                                 f"{SCHEMA_VERSION}): upgrade syncview to use it")
            if check_integrity:
                problems = [row[0] for row in conn.execute("PRAGMA integrity_check(5)")]
                if problems != ["ok"]:
                    raise StoreError(f"{path} is damaged (SQLite integrity check: {'; '.join(problems)})")
            resources = conn.execute("SELECT count(*) FROM resource").fetchone()[0]
    except sqlite3.DatabaseError as error:
        raise StoreError(f"{path} cannot be read as a syncview store ({error})") from None
    return StoreFacts(path, version, resources, path.stat().st_size)


def backup_store(store_path: Path, target: Path, *, force: bool = False) -> StoreFacts:
    """Write a consistent copy of the store at ``store_path`` to ``target``; returns what was written.

    The copy goes to ``target.partial`` first and is renamed into place only once it
    is complete and checked, so ``target`` is never half a backup. An existing
    ``target`` is refused unless ``force``. The backup is one self-contained file
    (rollback journal, not WAL), ready to be copied elsewhere as is.
    """
    store_path, target = store_path.absolute(), target.absolute()
    if not store_path.exists():
        raise StoreError(f"there is no store at {store_path} to back up")
    target = _backup_target(target, store_path, force=force)
    inspect_store(store_path, check_integrity=False)  # refuse a file that is not ours before copying it
    return _write_backup(target, str(store_path), lambda partial: _copy(store_path, partial))


def _write_backup(target: Path, source: str, write: Callable[[Path], None]) -> StoreFacts:
    """Have ``write`` make the backup of ``source`` (a store's file or URL, as shown) in a file
    beside ``target``, then mark it as a copy, check it, sync it and rename it into place, so
    ``target`` is never half a backup; what failed on the way is one line, and nothing is left
    behind but ``target``, whole or as it was."""
    partial = target.with_name(target.name + ".partial")
    remove_sqlite_file(partial)
    try:
        write(partial)
        mark_copy(partial, source)
        facts = inspect_store(partial)
        with partial.open("rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, target)
        _sync_directory(target.parent)
    except OSError as error:
        raise StoreError(f"cannot write the backup {target}: {error.strerror or error}; "
                         "check the directory exists, is writable and has room") from None
    except sqlite3.DatabaseError as error:
        raise StoreError(_sqlite_message(error, Path(source), target)) from None
    finally:
        remove_sqlite_file(partial)
    return StoreFacts(target, facts.schema_version, facts.resources, target.stat().st_size)


def _backup_target(target: Path, store_path: Path | None, *, force: bool) -> Path:
    """The file a backup goes to, checked: never a directory, a device, the store itself, or an
    existing file without ``force``."""
    if target.exists() and target.is_dir():
        raise StoreError(f"{target} is a directory; give the path of the backup file to write")
    if target.exists() and not target.is_file():  # a device or a pipe: a rename would replace the node itself
        raise StoreError(f"{target} is not a regular file; give the path of the backup file to write")
    target = target.resolve() if target.is_symlink() else target  # a link to a backup: replace what it names
    itself = store_path is not None and _same_file(target, store_path)
    if target.exists() and (itself or not force):
        why = "it is the store itself" if itself else "use --force to overwrite it"
        raise StoreError(f"{target} already exists; {why}")
    if not target.parent.is_dir():
        raise StoreError(f"cannot write the backup {target}: there is no directory {target.parent}; create it first")
    return target


#: Rows copied per statement by :func:`copy_to_sqlite`.
COPY_CHUNK = 5_000


def copy_to_sqlite(source: Store, target: Path, *, force: bool = False) -> StoreFacts:
    """Write the store ``source`` (either engine) to ``target`` as a self-contained SQLite store,
    to take offline: every table, row by row, in one read transaction of the source (a snapshot,
    even while a sync writes), into a new store whose own triggers build its counts and name
    index. Written beside ``target`` and renamed into place once complete and checked."""
    target = _backup_target(target.absolute(), None, force=force)

    def write(partial: Path) -> None:
        dest = open_store(partial)
        try:
            with source.read() as src, dest.write() as out:
                if src.dialect.name == "postgresql":  # one snapshot for every table
                    src.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                for table in SQLModel.metadata.sorted_tables:
                    rows = src.execute(select(table).order_by(*table.primary_key.columns)).mappings()
                    while chunk := rows.fetchmany(COPY_CHUNK):
                        out.execute(table.insert(), [dict(row) for row in chunk])
        finally:
            dest.close()
        with closing(_connect(partial)) as conn:
            conn.execute("PRAGMA journal_mode = DELETE")  # one file to carry, as a backup is

    return _write_backup(target, str(source.path), write)


def before_restore_path(shown_url: str) -> Path:
    """Where ``restore`` keeps a PostgreSQL store's rows before replacing them: an SQLite store in
    the user data directory, named for the server and database, and the time."""
    import platformdirs
    from sqlalchemy.engine import make_url

    url = make_url(shown_url)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{url.host or 'localhost'}_{url.port or 5432}_{url.database}")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    directory = platformdirs.user_data_path("syncview")
    directory.mkdir(parents=True, exist_ok=True)
    return directory / f"{name}.{stamp}{BEFORE_RESTORE_SUFFIX}"


def restore_into(store: Store, source: Path, previous: Path) -> RestoreReport:
    """Replace the contents of the open ``store`` (either engine; what restore does on PostgreSQL)
    with the SQLite backup ``source``, row by row, in one write transaction: other sessions see the
    old store or the restored one, never a mix, and a failure leaves it as it was. The current
    contents are first written to ``previous`` (an SQLite store, as :func:`copy_to_sqlite` writes)."""
    source = source.absolute()
    try:
        restored = inspect_store(source)
    except StoreError as error:
        raise StoreError(f"{error}; the store was left as it is") from None
    if restored.schema_version != SCHEMA_VERSION:
        raise StoreError(f"{source} is a store of schema {restored.schema_version}; open it once with this syncview "
                         f"(`syncview --db {source} status`) to bring it to schema {SCHEMA_VERSION}, then restore "
                         "it; the store was left as it is")
    copy_to_sqlite(store, previous, force=True)
    tables = SQLModel.metadata.sorted_tables
    backup = create_engine("sqlite://", creator=lambda: connect(source, read_only=True, check_same_thread=False),
                           poolclass=StaticPool)
    try:
        with backup.connect() as src, store.write() as out:
            # Row by row, so the store's own triggers keep its counts and name index right.
            for table in reversed(tables):
                out.execute(table.delete())
            for table in tables:
                rows = src.execute(select(table).order_by(*table.primary_key.columns)).mappings()
                while chunk := rows.fetchmany(COPY_CHUNK):
                    out.execute(table.insert(), [dict(row) for row in chunk])
            out.execute(meta_table.delete().where(meta_table.c.key == COPY_KEY))  # the store is no copy
            derived.analyze(out)  # the screens that read it next are planned for what it holds now
    except sqlite3.DatabaseError as error:
        raise StoreError(f"cannot read the backup {source} ({error}); the store is unchanged "
                         f"(and saved to {previous})") from None
    finally:
        backup.dispose()
    return RestoreReport(StoreFacts(source, restored.schema_version, restored.resources, restored.size), previous)


def restore_store(store_path: Path, source: Path) -> RestoreReport:
    """Replace the store at ``store_path`` with the backup ``source``, keeping the current one aside.

    The backup is checked first (a syncview store, a schema this syncview reads,
    intact). The current store is then backed up to ``<store>.before-restore.bak``
    (replacing an older file of that name), and the backup is copied into the live
    store in one transaction. A backup of an older schema is migrated the next time
    syncview opens the store, as any older store is.
    """
    store_path, source = store_path.absolute(), source.absolute()
    store_path = store_path.resolve() if store_path.is_symlink() else store_path  # restore into what a link names
    if store_path.exists() and not store_path.is_file():  # a directory, a device: never replaced by a rename
        raise StoreError(f"{store_path} is not a regular file; point --db at the store file to restore into")
    if source.exists() and store_path.exists() and _same_file(source, store_path):
        raise StoreError(f"{source} is the store itself; name a backup file to restore")
    try:
        restored = inspect_store(source)
    except StoreError as error:
        raise StoreError(f"{error}; the store was left as it is") from None
    if not store_path.exists():
        backup_store(source, store_path)
        return RestoreReport(StoreFacts(store_path, restored.schema_version, restored.resources,
                                        store_path.stat().st_size), None)
    previous = store_path.with_name(store_path.name + BEFORE_RESTORE_SUFFIX)
    try:
        inspect_store(store_path, check_integrity=False)
    except StoreError:
        # The current file is no store of ours (or unreadable): nothing can be copied into it
        # through SQLite, and nothing of it could be lost by replacing the file.
        return RestoreReport(_replace_unreadable(store_path, source, previous, restored), previous)
    backup_store(store_path, previous, force=True)
    try:
        with closing(_connect(source, read_only=True)) as src, closing(_connect(store_path)) as dest:
            _backup_step(src, dest)  # one write transaction on the live store
    except sqlite3.DatabaseError as error:
        raise StoreError(_sqlite_message(error, source, store_path) + f"; the store is unchanged "
                         f"(and saved to {previous})") from None
    return RestoreReport(StoreFacts(store_path, restored.schema_version, restored.resources,
                                    store_path.stat().st_size), previous)


#: The ``meta`` key a backup carries: which store it copies, when, and the last audit event then,
#: so that ``replay`` tells the actions taken on the copy from the history it was made with.
COPY_KEY = "offline_copy"


def mark_copy(path: Path, source: str) -> None:
    """Note in the fresh copy at ``path`` what it is a copy of (see :data:`COPY_KEY`)."""
    with closing(_connect(path)) as conn:
        last = conn.execute("SELECT coalesce(max(id), 0) FROM audit_event").fetchone()[0]
        made = datetime.now(UTC).isoformat(timespec="seconds")
        value = json.dumps({"of": source, "made": made, "audit_id": last})
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (COPY_KEY, value))


# --------------------------------------------------------------------------- helpers


def _connect(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    conn = connect(path, read_only=read_only)  # that very file, even on read-only media (store/db.py)
    conn.isolation_level = None
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    return conn


def _backup_step(src: sqlite3.Connection, dest: sqlite3.Connection) -> None:
    """``src.backup(dest)`` in one step (one transaction each side), giving up once locks have been
    waited for ``BUSY_TIMEOUT_S``: Python's own loop would retry a held lock forever."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S

    def progress(status: int, _remaining: int, _total: int) -> None:
        if status in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) and time.monotonic() >= deadline:
            raise sqlite3.OperationalError("database is locked")

    src.backup(dest, progress=progress)  # pages=-1: the whole copy at once


def _copy(source: Path, target: Path) -> None:
    """One consistent snapshot of ``source`` into a new file ``target``, made self-contained and synced."""
    target.unlink(missing_ok=True)
    with closing(_connect(source, read_only=True)) as src, closing(_connect(target)) as dest:
        _backup_step(src, dest)  # the whole copy under one read transaction
        # The copy inherits WAL mode from the page it copied; a backup is one file to carry around.
        dest.execute("PRAGMA journal_mode = DELETE")
    with target.open("rb+") as handle:
        os.fsync(handle.fileno())


def _replace_unreadable(store_path: Path, source: Path, previous: Path, restored: StoreFacts) -> StoreFacts:
    """Restore over a file SQLite cannot use: keep its bytes aside, then rename the backup's copy in."""
    for suffix in ("", "-wal"):
        if Path(f"{store_path}{suffix}").exists():
            shutil.copyfile(f"{store_path}{suffix}", f"{previous}{suffix}")
    partial = store_path.with_name(store_path.name + ".partial")
    try:
        _copy(source, partial)
        remove_sqlite_file(store_path, logs_only=True)
        os.replace(partial, store_path)
        _sync_directory(store_path.parent)
    finally:
        partial.unlink(missing_ok=True)
    return StoreFacts(store_path, restored.schema_version, restored.resources, store_path.stat().st_size)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False


def _sync_directory(directory: Path) -> None:
    """Make a rename durable (POSIX); harmless where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _sqlite_message(error: sqlite3.DatabaseError, source: Path, target: Path) -> str:
    text = str(error).lower()
    if "locked" in text or "busy" in text:
        return (f"{target} is locked by another syncview process (waited {BUSY_TIMEOUT_S:g} s); "
                "try again when it has finished")
    if "full" in text:
        return f"the disk holding {target} is full; free some space and retry"
    if "unable to open" in text or "readonly" in text:
        return f"cannot write {target}: check the directory exists and is writable"
    return f"copying {source} to {target} failed: {error}"
