"""``syncview doctor``, ``backup`` and ``restore`` end to end, through the CLI on real store files.

- The doctor checks config, secrets, store and connectivity, prints one line per problem
  saying what to fix, exits 1 if there is any, and never writes: a missing store stays
  missing, an existing one keeps its bytes.
- A backup is one consistent, self-contained snapshot, taken while other connections read
  or write: what they have committed, nothing of what they have not.
- A restore refuses anything that is not a syncview store this syncview reads, in one line,
  leaving the store untouched; otherwise it replaces the store in one transaction, keeps the
  replaced one beside it, and connections already open read the restored data.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from syncview.store.db import SCHEMA_VERSION
from tests.connectors.fakes.halopsa import FakeHaloPsa
from tests.reliability.conftest import HALO_SECRET, HALO_SECRET_VAR, halo_config
from tests.reliability.support import DATA_TABLES, assert_consistent, content, free_port, invoke, query, run, scalar

ENV = {HALO_SECRET_VAR: HALO_SECRET}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sv(db: Path, *args: str | Path, config: Path | None = None, env: dict[str, str] | None = None):
    return invoke("--db", db, *(["--config", config] if config else []), *args, env={**ENV, **(env or {})})


def damage_an_index(path: Path) -> None:
    """Make the store fail ``PRAGMA integrity_check`` while it still opens: an index that no longer
    matches its table (its definition changed behind SQLite's back)."""
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA writable_schema = ON")
        version = conn.execute("PRAGMA schema_version").fetchone()[0]
        conn.execute("UPDATE sqlite_master SET sql = 'CREATE INDEX ix_resource_record ON resource (version)' "
                     "WHERE name = 'ix_resource_record'")
        conn.execute(f"PRAGMA schema_version = {version + 1}")
        conn.commit()


def mark(path: Path, operator: str) -> int:
    """An operator's change, straight into the file: a resource excluded (returns its id)."""
    with closing(sqlite3.connect(path)) as conn, conn:
        resource_id = conn.execute("SELECT id FROM resource WHERE status = 'matched' ORDER BY id LIMIT 1"
                                   ).fetchone()[0]
        conn.execute("UPDATE resource SET status = 'excluded', record_id = NULL, updated_by = ?, "
                     "version = version + 1 WHERE id = ?", (operator, resource_id))
    return resource_id


# --------------------------------------------------------------------------- doctor


def test_doctor_on_a_healthy_setup_passes_every_check_and_writes_nothing(demo_db, serve, write_config):
    fake = FakeHaloPsa()
    config = write_config(halo_config(serve(fake)))
    sv(demo_db, "status", config=config).ok()  # Halo registered: the doctor has nothing to add
    # Nothing but the leases of its own requests (issue 12), which it gives back as it ends.
    leases = ("rate_lease", "flight_lease")
    before = content(demo_db, (*DATA_TABLES, *leases))

    human = sv(demo_db, "doctor", config=config).ok()
    assert human.stdout.strip().endswith("checks passed") and human.stderr == ""
    report = json.loads(sv(demo_db, "doctor", "--json", config=config).ok().stdout)
    assert report["ok"] and all(check["ok"] for check in report["checks"])
    assert {c["area"] for c in report["checks"]} == {"config", "secrets", "store", "connectivity"}
    store = next(c for c in report["checks"] if c["area"] == "store" and "integrity" in c["message"])
    assert store["message"].startswith(f"schema {SCHEMA_VERSION}, integrity ok, journal wal")
    assert fake.paths("POST") == ["/auth/token", "/auth/token"]  # one token per doctor run: it connected
    assert content(demo_db, (*DATA_TABLES, *leases)) == before
    assert all(rows == [] for table, rows in before.items() if table in leases)


def test_doctor_says_how_much_of_its_hour_an_autotask_database_has_used(demo_db, serve, write_config):
    from tests.connectors.fakes.autotask import FakeAutotask

    fake = FakeAutotask()
    fake.other_requests = 7_500  # the database's other integrations
    config = write_config(f'[[integrations]]\nname = "Autotask"\nkind = "autotask"\nusername = "{fake.username}"\n'
                          f'integration_code = "env:AT_CODE"\nsecret = "env:AT_SECRET"\n'
                          f'zone_url = "{serve(fake)}/ATServicesRest/"\n')
    env = {"AT_CODE": fake.integration_code, "AT_SECRET": fake.secret}
    report = json.loads(sv(demo_db, "doctor", "--json", config=config, env=env).ok().stdout)
    [check] = [c for c in report["checks"] if c["area"] == "connectivity"]
    assert check["ok"] and check["message"].startswith("answered; the database has used 7,5")
    assert check["message"].endswith("of its 10,000 requests this hour (from half on, Autotask slows every "
                                     "integration of the database down)")


def test_doctor_offline_makes_no_request_and_a_missing_store_stays_missing(tmp_path, serve, write_config):
    fake = FakeHaloPsa()
    config = write_config(halo_config(serve(fake)))
    missing = tmp_path / "nowhere.db"
    result = sv(missing, "doctor", "--offline", config=config).ok()
    assert "checks passed" in result.stdout
    assert fake.requests == [] and not missing.exists()


def test_doctor_lists_each_problem_with_what_to_fix_and_exits_1(demo_db, tmp_path, write_config):
    port = free_port()
    config = write_config(halo_config(f"http://127.0.0.1:{port}") + halo_config(
        f"http://127.0.0.1:{port}", name="Halo 2", secret="env:SYNCVIEW_TEST_UNSET"))
    config.chmod(0o666)  # others may write it
    damage_an_index(demo_db)
    before = digest(demo_db)

    result = sv(demo_db, "doctor", config=config)
    assert result.code == 1 and "Traceback" not in result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1].startswith("4 problems in ")
    problems = lines[:-1]
    assert problems[0] == (f"✗ config: {config}: config file {config} can be written by other users (mode 0666); "
                           f"run: chmod 600 {config}")
    assert problems[1] == ('✗ secrets: Halo 2: integration "Halo 2", setting client_secret: "env:SYNCVIEW_TEST_UNSET": '
                           "environment variable SYNCVIEW_TEST_UNSET is not set; export it before starting syncview")
    assert problems[2].startswith(f"✗ store: {demo_db}: is damaged (integrity check: row ")
    assert problems[2].endswith("missing from index ix_resource_record); restore a backup with "
                                "`syncview restore BACKUP`")
    assert problems[3].startswith("✗ connectivity: Halo: Halo: cannot connect to 127.0.0.1")  # Halo 2: said above
    assert digest(demo_db) == before


@pytest.mark.parametrize("what, expected", [
    ("text", "is not an SQLite database; point --db at a syncview store, or restore one with "
             "`syncview restore BACKUP`"),
    ("newer", f"was written by a newer syncview (schema 99; this one reads up to {SCHEMA_VERSION}); upgrade syncview"),
])
def test_doctor_names_a_store_it_cannot_use(demo_db, what, expected):
    if what == "text":
        demo_db.write_text("not a store\n", encoding="utf-8")
    else:
        with closing(sqlite3.connect(demo_db)) as conn:
            conn.execute("PRAGMA user_version = 99")
    before = digest(demo_db)
    result = sv(demo_db, "doctor", "--offline")
    assert result.code == 1
    assert f"✗ store: {demo_db}: {expected}" in result.stdout.splitlines()
    assert digest(demo_db) == before


# --------------------------------------------------------------------------- backup


def test_a_backup_is_a_self_contained_copy_of_everything(demo_db, tmp_path):
    mark(demo_db, "alice")
    target = tmp_path / "backups" / "monday.db"
    target.parent.mkdir()
    line = sv(demo_db, "backup", target).ok().stdout.strip()
    resources = scalar(demo_db, "SELECT count(*) FROM resource")
    assert line.startswith(f"Backed up {demo_db} to {target} (") and f"{resources:,} resources, schema " in line
    assert content(target) == content(demo_db)
    assert query(target, "PRAGMA journal_mode") == [("delete",)]  # one file, no -wal to carry along
    assert sorted(p.name for p in target.parent.iterdir()) == ["monday.db"]  # no .partial left behind
    assert_consistent(target)
    # The backup is a working store: syncview opens it as it is.
    assert json.loads(sv(target, "status", "--json").ok().stdout)["integrations"]


def test_a_backup_never_overwrites_unless_forced(demo_db, tmp_path):
    target = tmp_path / "backup.db"
    target.write_text("yesterday's notes\n", encoding="utf-8")
    line = sv(demo_db, "backup", target).error_line()
    assert line == f"syncview: error: {target} already exists; use --force to overwrite it"
    assert target.read_text(encoding="utf-8") == "yesterday's notes\n"
    sv(demo_db, "backup", target, "--force").ok()
    assert content(target) == content(demo_db)
    assert sv(demo_db, "backup", demo_db, "--force").error_line() == (
        f"syncview: error: {demo_db} already exists; it is the store itself")


def test_a_backup_taken_during_other_transactions_holds_what_was_committed(demo_db, tmp_path):
    committed = content(demo_db)
    with closing(sqlite3.connect(demo_db, isolation_level=None)) as reader, \
            closing(sqlite3.connect(demo_db, isolation_level=None)) as writer:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM resource").fetchone()  # a screen's read transaction, held
        writer.execute("BEGIN IMMEDIATE")  # and a sync's page, written but not committed
        writer.execute("UPDATE resource SET name = 'HALF-WRITTEN' WHERE id IN (SELECT id FROM resource LIMIT 50)")
        sv(demo_db, "backup", tmp_path / "during.db").ok()
        writer.execute("ROLLBACK")
        reader.execute("COMMIT")
    assert content(tmp_path / "during.db") == committed
    assert_consistent(tmp_path / "during.db")


@pytest.mark.parametrize("source, expected", [
    ("missing", "there is no store at {db} to back up"),
    ("text", "{db} is not a syncview store (not an SQLite database)"),
])
def test_a_backup_of_no_store_is_refused_in_one_line(tmp_path, source, expected):
    db = tmp_path / "store.db"
    if source == "text":
        db.write_text("notes\n", encoding="utf-8")
    assert sv(db, "backup", tmp_path / "b.db").error_line() == "syncview: error: " + expected.format(db=db)
    assert not (tmp_path / "b.db").exists()


def test_a_backup_into_a_missing_directory_says_so(demo_db, tmp_path):
    target = tmp_path / "no" / "such" / "dir" / "b.db"
    assert sv(demo_db, "backup", target).error_line() == (
        f"syncview: error: cannot write the backup {target}: there is no directory {target.parent}; create it first")


# --------------------------------------------------------------------------- restore


def test_restore_brings_back_the_backup_and_keeps_the_replaced_store(demo_db, tmp_path):
    backup = tmp_path / "backup.db"
    sv(demo_db, "backup", backup).ok()
    at_backup = content(demo_db)
    changed = mark(demo_db, "bob")  # after the backup: what a restore undoes
    after_change = content(demo_db)

    line = sv(demo_db, "restore", backup).ok().stdout.strip()
    previous = Path(f"{demo_db}.before-restore.bak")
    assert line == (f"Restored {scalar(backup, 'SELECT count(*) FROM resource'):,} resources from {backup} into "
                    f"{demo_db}; the previous store is saved as {previous}")
    assert content(demo_db) == at_backup
    assert content(previous) == after_change
    assert query(previous, "SELECT updated_by FROM resource WHERE id = ?", changed) == [("bob",)]
    assert_consistent(demo_db)
    sv(demo_db, "status").ok()


def test_restore_reaches_connections_already_open(demo_db, tmp_path):
    """Another process with the store open (a screen) reads the restored data next; nothing to reopen."""
    backup = tmp_path / "backup.db"
    sv(demo_db, "backup", backup).ok()
    changed = mark(demo_db, "bob")
    with closing(sqlite3.connect(demo_db)) as screen:
        assert screen.execute("SELECT status FROM resource WHERE id = ?", (changed,)).fetchone() == ("excluded",)
        sv(demo_db, "restore", backup).ok()
        assert screen.execute("SELECT status FROM resource WHERE id = ?", (changed,)).fetchone() == ("matched",)


def _other_sqlite(path: Path) -> None:
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")


def _newer(path: Path, demo_db: Path) -> None:
    shutil.copyfile(demo_db, path)
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA user_version = 99")


def _damaged(path: Path, demo_db: Path) -> None:
    shutil.copyfile(demo_db, path)
    damage_an_index(path)


@pytest.mark.parametrize("kind, make, expected", [
    ("text", lambda p, _db: p.write_text("notes\n", encoding="utf-8"),
     "{src} is not a syncview store (not an SQLite database)"),
    ("other", lambda p, _db: _other_sqlite(p), "{src} is an SQLite database but not a syncview store"),
    ("newer", _newer, "{src} was written by a newer syncview (schema 99; this one reads up to {version}): "
                      "upgrade syncview to use it"),
    ("damaged", _damaged, "{src} is damaged (SQLite integrity check: row "),
    ("missing", lambda p, _db: None, "{src} does not exist or is not a file"),
])
def test_restore_of_anything_but_a_readable_syncview_store_is_refused_and_the_store_untouched(
        demo_db, tmp_path, kind, make, expected):
    source = tmp_path / f"{kind}.db"
    make(source, demo_db)
    before = digest(demo_db)
    line = sv(demo_db, "restore", source).error_line()
    message = "syncview: error: " + expected.format(src=source, version=SCHEMA_VERSION)
    if kind == "damaged":  # which rows SQLite names depends on the data
        assert line.startswith(message), line
        assert line.endswith(" missing from index ix_resource_record); the store was left as it is"), line
    else:
        assert line == message + "; the store was left as it is"
    assert digest(demo_db) == before
    assert not Path(f"{demo_db}.before-restore.bak").exists()


def test_restore_into_a_store_that_does_not_exist_yet_creates_it(demo_db, tmp_path):
    fresh = tmp_path / "new" / "store.db"
    fresh.parent.mkdir()
    line = sv(fresh, "restore", demo_db).ok().stdout.strip()
    assert line.startswith("Restored ") and "previous store" not in line
    assert content(fresh) == content(demo_db)


def test_restore_over_a_file_that_is_not_a_store_keeps_its_bytes_aside(demo_db, tmp_path):
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"SQLite format 3\x00" + b"\x00" * 100)  # a header and nothing else
    sv(broken, "restore", demo_db).ok()
    assert content(broken) == content(demo_db)
    assert Path(f"{broken}.before-restore.bak").read_bytes() == b"SQLite format 3\x00" + b"\x00" * 100


@pytest.mark.slow
def test_backup_and_restore_through_the_console_script(demo_db, tmp_path):
    backup = tmp_path / "b.db"
    run("--db", demo_db, "backup", backup).ok()
    mark(demo_db, "carol")
    run("--db", demo_db, "restore", backup).ok()
    assert content(demo_db) == content(backup)
    refused = run("--db", demo_db, "restore", tmp_path / "b.db.partial")
    assert refused.error_line() == (f"syncview: error: {tmp_path / 'b.db.partial'} does not exist or is not a file; "
                                    "the store was left as it is")


def test_a_migration_whose_backup_cannot_be_written_is_refused_in_one_line(demo_db, monkeypatch):
    """An older store is upgraded only after a backup beside it; no backup, no upgrade, no traceback."""
    from syncview.store import db

    monkeypatch.setattr(db, "SCHEMA_VERSION", db.SCHEMA_VERSION + 1)
    monkeypatch.setitem(db.MIGRATIONS, db.SCHEMA_VERSION - 1, lambda conn: None)
    blocked = demo_db.with_name(f"{demo_db.name}.schema{db.SCHEMA_VERSION - 1}.bak")
    blocked.mkdir()  # where the backup would go
    before = content(demo_db)
    line = sv(demo_db, "status").error_line()
    assert line == (f"syncview: error: {demo_db} needs upgrading to schema {db.SCHEMA_VERSION} but its backup "
                    f"{blocked} cannot be written (unable to open database file); free some space or fix the "
                    "directory's permissions and retry; the store is unchanged")
    assert content(demo_db) == before
    assert query(demo_db, "PRAGMA user_version") == [(db.SCHEMA_VERSION - 1,)]


def test_doctor_on_an_empty_file_says_it_becomes_a_store_and_leaves_it_empty(tmp_path):
    empty = tmp_path / "empty.db"
    empty.touch()
    report = json.loads(sv(empty, "doctor", "--offline", "--json").ok().stdout)
    assert {"area": "store", "subject": str(empty), "ok": True,
            "message": "is an empty file; syncview makes it a store on first use"} in report["checks"]
    assert empty.stat().st_size == 0
