"""The headless CLI end to end, on a real demo store: every ``--json`` output is parsed and
checked against the store itself, every action against the rows it must write, and every
failure against the contract (non-zero exit, one ``syncview: error:`` line, store untouched)."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from syncview import config
from syncview.connectors.base import Setting
from syncview.domain import normalise_name
from syncview.store.db import SCHEMA_VERSION
from tests.cli.conftest import assert_one_line_failure, execute, query, snapshot

PSA, RMM = "ConnectWise Manage", "Datto RMM"


def integration_id(db: Path, name: str) -> int:
    return query(db, "SELECT id FROM integration WHERE name = ?", name)[0][0]


def db_time(text: str) -> datetime:
    """A DATETIME as the store holds it (UTC without offset) as an aware datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- status ---------------------------------------------------------------------------------------

def test_status_json_counts_equal_the_store(sv, db):
    report = sv.json("status")

    assert report["store"] == str(db)
    assert [i["name"] for i in report["integrations"]] == [PSA, RMM]
    for item in report["integrations"]:
        live = "integration_id = ? AND deleted_remotely = 0"
        by_status = dict(query(db, f"SELECT status, count(*) FROM resource WHERE {live} GROUP BY status", item["id"]))
        by_type = dict(query(db, f"SELECT type, count(*) FROM resource WHERE {live} GROUP BY type", item["id"]))
        assert item["by_status"] == {s: by_status.get(s, 0) for s in ("matched", "not_synced", "excluded")}
        assert item["by_type"] == {t: by_type.get(t, 0) for t in ("client", "site", "device", "contact")}
        assert item["total"] == sum(by_status.values())
        [(last,)] = query(db, "SELECT max(ended_at) FROM syncrun WHERE integration_id = ? "
                              "AND outcome = 'success'", item["id"])
        assert datetime.fromisoformat(item["last_synced_at"]) == db_time(last)
        assert item["last_outcome"] == "success" and item["last_run_at"] == item["last_synced_at"]
    assert sum(i["total"] + i["removed"] for i in report["integrations"]) == query(
        db, "SELECT count(*) FROM resource")[0][0]


def test_status_says_a_failed_last_run_first_and_when_the_last_success_was(sv, db):
    [(psa_id, success)] = query(db, "SELECT integration_id, max(ended_at) FROM syncrun WHERE integration_id = "
                                    "(SELECT id FROM integration WHERE name = ?) GROUP BY integration_id", PSA)
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    execute(db, "INSERT INTO syncrun (integration_id, started_at, ended_at, outcome, fetched, created, matched,"
                " not_synced, removed, message) VALUES (?, ?, ?, 'failed', 0, 0,"
                " 0, 0, 0, 'ConnectWise Manage: the API answered 401 Unauthorized')", psa_id, now, now)
    item = next(i for i in sv.json("status")["integrations"] if i["name"] == PSA)
    assert item["last_outcome"] == "failed"
    assert item["last_message"] == "ConnectWise Manage: the API answered 401 Unauthorized"
    assert datetime.fromisoformat(item["last_synced_at"]) == db_time(success)
    lines = sv.ok("status", env={"COLUMNS": "120"}).stdout.splitlines()
    assert "Failed just now" in next(line for line in lines if line.startswith(PSA)), lines
    assert f"{PSA}: the API answered 401 Unauthorized" in lines


def test_status_at_80_columns_fits_and_says_the_last_success_only_when_it_differs(sv, db):
    from rich.cells import cell_len
    lines = sv.ok("status", env={"COLUMNS": "80"}).stdout.splitlines()
    assert all(cell_len(line) <= 80 for line in lines[1:]), lines  # the store's path, first, is as long as it is
    assert "Last success" not in lines[1] and "Excluded" in lines[1], lines  # every last run succeeded
    assert any(line.startswith(PSA) and "Synced" in line for line in lines), lines
    [(psa_id,)] = query(db, "SELECT id FROM integration WHERE name = ?", PSA)
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    execute(db, "INSERT INTO syncrun (integration_id, started_at, ended_at, outcome, fetched, created, matched,"
                " not_synced, removed, message) VALUES (?, ?, ?, 'failed', 0, 0,"
                " 0, 0, 0, 'ConnectWise Manage: the API answered 401 Unauthorized')", psa_id, now, now)
    lines = sv.ok("status", env={"COLUMNS": "80"}).stdout.splitlines()
    assert any("Last" in line and "success" in line for line in lines[1:3]), lines
    assert any(line.startswith(PSA) and "Failed just now" in line for line in lines), lines


def test_status_table_names_every_integration(sv, db):
    output = sv.ok("status").stdout
    assert PSA in output and RMM in output and str(db) in output


def test_bare_syncview_without_a_terminal_seeds_once_then_shows_status(sv, tmp_path):
    fresh = tmp_path / "fresh" / "syncview.db"
    first = sv.ok(db=fresh)
    assert "First run: seeded the demo MSP" in first.stdout and RMM in first.stdout
    counted = query(fresh, "SELECT count(*) FROM resource")[0][0]
    again = sv.ok(db=fresh)
    assert "First run" not in again.stdout
    assert query(fresh, "SELECT count(*) FROM resource")[0][0] == counted


# --- resources ------------------------------------------------------------------------------------

def test_resources_filters_are_honoured(sv, db):
    found = sv.json("resources", "--integration", RMM, "--status", "not_synced", "--filter", "acme",
                    "--limit", "10000")
    expected = query(db, "SELECT id FROM resource WHERE integration_id = ? AND status = 'not_synced' "
                         "AND name_norm LIKE '%acme%'", integration_id(db, RMM))
    assert found["total"] == len(expected) > 0
    assert sorted(r["id"] for r in found["resources"]) == sorted(i for (i,) in expected)
    assert all(r["status"] == "not_synced" and "acme" in r["name"].lower() for r in found["resources"])


@pytest.mark.parametrize(("option", "value", "column", "stored"), [
    ("--type", "contact", "type", "contact"),
    ("--type", "Devices", "type", "device"),
    ("--status", "Not Synced", "status", "not_synced"),
    ("--status", "excluded", "status", "excluded"),
])
def test_resources_type_and_status_filters(sv, db, option, value, column, stored):
    found = sv.json("resources", "--integration", PSA, option, value, "--limit", "10000")
    [(count,)] = query(db, f"SELECT count(*) FROM resource WHERE integration_id = ? AND {column} = ?",
                       integration_id(db, PSA), stored)
    assert found["total"] == len(found["resources"]) == count > 0
    assert {r[column] for r in found["resources"]} == {stored}


def test_resources_client_filter_by_name_any_case_or_id(sv, db):
    [(client_id, name)] = query(db, "SELECT id, name FROM client ORDER BY id LIMIT 1")
    [(count,)] = query(db, "SELECT count(*) FROM resource WHERE integration_id = ? AND client_id = ?",
                       integration_id(db, RMM), client_id)
    for given in (name.upper(), str(client_id)):
        found = sv.json("resources", "--integration", RMM, "--client", given, "--limit", "10000")
        assert found["total"] == count > 0
        assert {r["client_id"] for r in found["resources"]} == {client_id}


def test_resources_pages_and_sorts_with_a_total(sv, db):
    everything = sv.json("resources", "--integration", PSA, "--type", "site", "--limit", "10000")["resources"]
    page = sv.json("resources", "--integration", PSA, "--type", "site", "--limit", "5", "--offset", "5")
    assert page["total"] == len(everything) and page["offset"] == 5
    assert page["resources"] == everything[5:10]
    newest = sv.json("resources", "--integration", PSA, "--sort", "last_seen", "--desc", "--limit", "50")
    seen = [r["last_seen"] for r in newest["resources"]]
    assert seen == sorted(seen, reverse=True)


LONG = ["Acme Engineering Corp - London [HQ] WS-01", "Acme Engineering Corp - Leeds 🚀 WS-02",
        "Acme Engineering Corp - [b]York[/b] WS-03", "Acme Engineering Corp - Bath 中文 WS-04"]


def test_resources_at_80_columns_give_the_name_the_room(sv, tmp_path):
    """The issue's case: long names (markup-like brackets, emoji, wide letters) at 80 columns.
    The name shows whole; Type, Status and Last seen say the same on every row, so they are
    said once above the table instead of taking its width; no line runs past 80 cells."""
    from rich.cells import cell_len
    from syncview.store import open_store
    from tests.tui.test_hostile_text import sync_names
    path = tmp_path / "long.db"
    store = open_store(path)
    sync_names(store, tmp_path, LONG)
    store.close()
    output = sv.ok("resources", "--type", "device", db=path, env={"COLUMNS": "80"}).stdout
    lines = output.splitlines()
    assert all(cell_len(line) <= 80 for line in lines), output
    for name in LONG:
        assert any(name in line for line in lines), (name, output)
    assert lines[0] == "Every row: Type Device · Status Not Synced · Last seen just now", output
    header = lines[1].split()
    assert header[:2] == ["Id", "Name"] and "Type" not in header and "Status" not in header, output
    wide = sv.ok("resources", "--type", "device", db=path, env={"COLUMNS": "160"}).stdout.splitlines()
    assert {"Type", "Status", "Remote", "Last"} <= set(wide[0].split()), wide  # room enough: every column


def test_resources_table_shows_how_many_of_how_many(sv):
    output = sv.ok("resources", "--integration", RMM, "--limit", "3").stdout
    assert "3 shown of" in output


# --- logs -----------------------------------------------------------------------------------------

def test_logs_json_in_a_date_range(sv, db):
    since = datetime.now(UTC) - timedelta(days=7)
    until = datetime.now(UTC) - timedelta(days=2)
    entries = sv.json("logs", "--since", since.isoformat(), "--until", until.isoformat())
    [(count,)] = query(db, "SELECT count(*) FROM sync_log_entry WHERE time >= ? AND time < ?",
                       since.strftime("%Y-%m-%d %H:%M:%S.%f"), until.strftime("%Y-%m-%d %H:%M:%S.%f"))
    assert len(entries) == count > 0
    times = [datetime.fromisoformat(e["time"]) for e in entries]
    assert all(since <= t < until for t in times)
    assert times == sorted(times, reverse=True)


def test_logs_since_an_age_level_and_integration(sv, db):
    entries = sv.json("logs", "--since", "7d", "--integration", PSA, "--level", "warning")
    assert entries and {e["level"] for e in entries} <= {"warning", "error"}
    assert {e["integration_id"] for e in entries} == {integration_id(db, PSA)}
    week_ago = datetime.now(UTC) - timedelta(days=7, minutes=1)
    assert all(datetime.fromisoformat(e["time"]) >= week_ago for e in entries)
    assert len(sv.json("logs", "--limit", "4")) == 4


# --- candidates and actions -----------------------------------------------------------------------

def audit_rows(db: Path, resource_id: int) -> list[tuple]:
    return query(db, "SELECT operator, action, before, after FROM audit_event WHERE resource_id = ? "
                     "AND operator = 'tester' ORDER BY id", resource_id)


def action_logs(db: Path, resource_id: int) -> list[str]:
    return [m for (m,) in query(db, "SELECT message FROM sync_log_entry WHERE resource_id = ? "
                                    "AND sync_run_id IS NULL ORDER BY id", resource_id)]


def resource_state(db: Path, resource_id: int) -> tuple:
    return query(db, "SELECT status, record_id, version FROM resource WHERE id = ?", resource_id)[0]


def a_resource(sv, status: str, type_: str = "device") -> dict:
    return sv.json("resources", "--integration", RMM, "--status", status, "--type", type_, "--limit", "1")[
        "resources"][0]


def test_candidates_are_records_of_the_same_type_best_first(sv, db):
    resource = a_resource(sv, "not_synced")
    found = sv.json("candidates", str(resource["id"]), "--limit", "5")
    assert 0 < len(found) <= 5
    assert {c["record"]["type"] for c in found} == {"device"}
    scores = [c["score"] for c in found]
    assert scores == sorted(scores, reverse=True)


def test_rematch_links_and_writes_audit_and_log(sv, db):
    resource = a_resource(sv, "not_synced")
    target = next(c["record"] for c in sv.json("candidates", str(resource["id"]), "--limit", "50")
                  if c["linked_to"] is None)

    result = sv.json("rematch", str(resource["id"]), str(target["id"]), "--expect-version", str(resource["version"]))

    assert result["action"] == "rematch" and result["resource_ids"] == [resource["id"]]
    assert result["resources"][0]["record_id"] == target["id"]
    assert resource_state(db, resource["id"]) == ("matched", target["id"], resource["version"] + 1)
    [(operator, action, before, after)] = audit_rows(db, resource["id"])
    assert (operator, action) == ("tester", "rematch")
    assert json.loads(before)["status"] == "not_synced" and json.loads(after)["record_id"] == target["id"]
    assert action_logs(db, resource["id"]) == [f"tester: {result['message']}"]


def test_exclude_disabling_the_record_include_and_undo(sv, db):
    resource = a_resource(sv, "matched")
    record_id = resource["record_id"]

    sv.ok("exclude", str(resource["id"]), "--disable-record")
    assert resource_state(db, resource["id"])[:2] == ("excluded", None)
    assert query(db, "SELECT disabled FROM record WHERE id = ?", record_id) == [(1,)]

    sv.ok("include", str(resource["id"]))
    assert resource_state(db, resource["id"])[:2] == ("not_synced", None)

    undone = sv.json("undo")
    assert undone["action"] == "undo" and undone["resources"][0]["status"] == "excluded"
    assert resource_state(db, resource["id"])[:2] == ("excluded", None)
    assert [a for _, a, _, _ in audit_rows(db, resource["id"])] == ["exclude", "include", "undo"]
    assert len(action_logs(db, resource["id"])) == 3

    redone = sv.json("redo")  # what the undo reverted: the include
    assert redone["action"] == "redo" and redone["resources"][0]["status"] == "not_synced"
    assert "nothing to redo for tester" in sv.fails("redo", code=1)


def test_undo_restores_a_rematch_and_the_disabled_record(sv, db):
    resource = a_resource(sv, "matched")
    previous = resource["record_id"]
    target = next(c["record"] for c in sv.json("candidates", str(resource["id"]), "--limit", "50")
                  if c["linked_to"] is None)
    before = resource_state(db, resource["id"])

    sv.ok("rematch", str(resource["id"]), str(target["id"]), "--disable-previous")
    assert query(db, "SELECT disabled FROM record WHERE id = ?", previous) == [(1,)]
    output = sv.ok("undo").stdout

    assert "undid rematch" in output
    status, record_id, version = resource_state(db, resource["id"])
    assert (status, record_id) == before[:2] and version == before[2] + 2
    assert query(db, "SELECT disabled FROM record WHERE id = ?", previous) == [(0,)]


def test_a_stale_version_is_refused_and_nothing_changes(sv, db):
    resource = a_resource(sv, "matched")
    before = snapshot(db)
    message = sv.fails("exclude", str(resource["id"]), "--expect-version", str(resource["version"] - 1))
    assert "reload and try again" in message
    assert snapshot(db) == before


@pytest.mark.parametrize(("args", "expected"), [
    (("exclude", "999999"), "no resource with id 999999"),
    (("include", "999999"), "no resource with id 999999"),
    (("candidates", "999999"), "no resource with id 999999"),
    (("rematch", "1", "999999"), "no record with id 999999"),
    (("undo",), "nothing to undo for tester"),
])
def test_actions_on_unknown_ids_fail_cleanly(sv, db, args, expected):
    before = snapshot(db)
    assert expected in sv.fails(*args, code=1)
    assert snapshot(db) == before


def test_an_action_the_rules_refuse_fails_cleanly(sv, db):
    matched = a_resource(sv, "matched")
    before = snapshot(db)
    assert "is not excluded" in sv.fails("include", str(matched["id"]))
    assert snapshot(db) == before


# --- export ---------------------------------------------------------------------------------------

EXPORT_COLUMNS = "id, integration_id, type, external_id, name, status, record_id, client_id, version"


def stored_resources(db: Path, where: str = "1", *params) -> dict[int, dict]:
    names = [c.strip() for c in EXPORT_COLUMNS.split(",")]
    return {row[0]: dict(zip(names, row, strict=True))
            for row in query(db, f"SELECT {EXPORT_COLUMNS} FROM resource WHERE {where}", *params)}


def test_export_csv_rows_equal_the_resources(sv, db, tmp_path):
    target = tmp_path / "out.csv"
    result = sv.ok("export", "--format", "csv", "-o", str(target), "--integration", RMM)
    rows = list(csv.DictReader(target.open(newline="", encoding="utf-8")))
    expected = stored_resources(db, "integration_id = ?", integration_id(db, RMM))

    assert f"Exported {len(expected):,} resources" in result.stderr
    assert len(rows) == len(expected)
    for row in rows:
        stored = expected[int(row["id"])]
        for key, value in stored.items():
            assert row[key] == ("" if value is None else str(value)), key
        assert row["deleted_remotely"] in ("true", "false")
    assert not list(tmp_path.glob("*.partial"))


def test_export_json_equals_resources_json(sv, db, tmp_path):
    target = tmp_path / "out.json"
    sv.ok("export", "--format", "json", "-o", str(target), "--status", "excluded", "--integration", PSA)
    exported = json.loads(target.read_text(encoding="utf-8"))
    listed = sv.json("resources", "--status", "excluded", "--integration", PSA, "--limit", "10000")["resources"]

    assert sorted(exported, key=lambda r: r["id"]) == sorted(listed, key=lambda r: r["id"])
    expected = stored_resources(db, "status = 'excluded' AND integration_id = ?", integration_id(db, PSA))
    assert {r["id"]: {k: r[k] for k in expected[r["id"]]} for r in exported} == expected


def test_export_to_standard_output(sv, db):
    exported = json.loads(sv.ok("export", "--format", "json").stdout)
    assert len(exported) == query(db, "SELECT count(*) FROM resource")[0][0]


HOSTILE = {
    "name": "=HYPERLINK(\"http://evil.example\",\"click\")",
    "remote_company": "+1-555\x1b]52;c;cm0gLXJmIH4=\x07",
    "external_id": "@SUM(A1)\x9b31m",
}


def test_formulas_and_control_characters_are_inert_in_csv_and_terminal(sv, db, tmp_path):
    [(rid,)] = query(db, "SELECT id FROM resource WHERE integration_id = ? ORDER BY id LIMIT 1",
                     integration_id(db, RMM))
    execute(db, "UPDATE resource SET name = ?, remote_company = ?, external_id = ?, name_norm = ? WHERE id = ?",
            *HOSTILE.values(), normalise_name(HOSTILE["name"]), rid)

    target = tmp_path / "out.csv"
    sv.ok("export", "--format", "csv", "-o", str(target))
    raw = target.read_text(encoding="utf-8")
    row = next(r for r in csv.DictReader(io.StringIO(raw, newline="")) if r["name"].startswith("'="))
    assert row["name"] == "'" + HOSTILE["name"]
    assert row["remote_company"] == "'+1-555\\x1b]52;c;cm0gLXJmIH4=\\x07"
    assert row["external_id"] == "'@SUM(A1)\\x9b31m"
    assert not any(ord(ch) < 0x20 and ch not in "\r\n" or 0x7f <= ord(ch) <= 0x9f for ch in raw)

    # JSON keeps the exact values, but escaped so a terminal showing it acts on none of them.
    exported = sv.ok("export", "--format", "json").stdout
    assert "\x1b" not in exported and "\x9b" not in exported and "\x07" not in exported
    [item] = [r for r in json.loads(exported) if r["id"] == rid]
    assert {k: item[k] for k in HOSTILE} == HOSTILE

    for columns in ("80", "200"):  # at 80 the remote company yields its room; at 200 it shows
        table = sv.ok("resources", "--integration", RMM, "--filter", "hyperlink", env={"COLUMNS": columns}).stdout
        assert "\x1b" not in table and "\x9b" not in table and "\x07" not in table
    assert "\\x1b" in table  # shown as a visible escape


def test_export_to_an_unwritable_place_fails_and_leaves_nothing(sv, db, tmp_path):
    target = tmp_path / "missing-dir" / "out.csv"
    assert "cannot write" in sv.fails("export", "--format", "csv", "-o", str(target))
    assert not target.parent.exists()


# --- bad input ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("args", "code", "expected"), [
    (("resources", "--integration", "Nope"), 1, "no integration named 'Nope'; known integrations: "
                                                "'ConnectWise Manage', 'Datto RMM'"),
    (("logs", "--integration", "Nope"), 1, "no integration named 'Nope'"),
    (("resources", "--integration", RMM, "--client", "No Such Client"), 2, "no client 'No Such Client'"),
    (("resources", "--client", "Acme Corp"), 2, "--client needs --integration"),
    (("resources", "--status", "synced-ish"), 2, "unknown status 'synced-ish'; expected one of"),
    (("resources", "--type", "printer"), 2, "unknown resource type 'printer'"),
    (("logs", "--since", "last tuesday"), 2, "cannot read 'last tuesday' as a time"),
    (("logs", "--since", "99999999d"), 2, "reaches further back"),
    (("logs", "--since", "today", "--until", "yesterday"), 2, "--since must be before --until"),
    (("export",), 2, "Missing option '--format'. Choose from: csv, json"),
    (("rematch", "abc", "1"), 2, "'abc' is not a valid integer"),
    (("frobnicate",), 2, "No such command 'frobnicate'"),
    (("demo", "--resources", "100"), 1, "already holds the demo integration"),
])
def test_bad_input_gets_one_line_and_leaves_the_store_as_it_was(sv, db, args, code, expected):
    before = snapshot(db)
    message = sv.fails(*args, code=code)
    assert expected in message
    if code == 2:
        assert "--help`)" in message  # says where to look
    assert snapshot(db) == before


def test_a_file_that_is_not_sqlite_is_refused_and_kept(sv, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    assert "is not a syncview store" in sv.fails("status", db=notes)
    assert notes.read_text() == "my notes\n"


def test_a_store_from_a_newer_syncview_is_refused_and_kept(sv, db):
    if isinstance(db, str):
        execute(db, f"UPDATE syncview_schema SET version = {SCHEMA_VERSION + 1}")
    else:
        conn = sqlite3.connect(db)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        conn.close()
    before = snapshot(db)
    assert "written by a newer syncview" in sv.fails("status")
    assert snapshot(db) == before


def test_a_store_in_a_directory_that_cannot_be_created(sv, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    target = blocker / "sub" / "syncview.db"
    assert "cannot create the directory for the store" in sv.fails("status", db=target)
    assert blocker.read_text() == ""


def test_a_failed_command_leaves_no_new_store_behind(sv, tmp_path):
    target = tmp_path / "new" / "syncview.db"
    sv.fails("resources", "--integration", "Nope", db=target)
    assert list(target.parent.iterdir()) == []


def test_an_unexpected_error_is_one_line_with_a_crash_report(sv, monkeypatch, tmp_path):
    from syncview.services import queries

    def broken(_store):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(queries, "list_integrations", broken)
    message = sv.fails("status")
    assert "unexpected RuntimeError: kaboom" in message and "please report it" in message
    crash_log = Path(os.environ["XDG_STATE_HOME"]) / "syncview" / "log" / "crash.log"
    assert "Traceback" in crash_log.read_text()


def test_help_and_version_exit_zero(sv):
    assert "rematch" in sv.ok("--help").stdout
    assert "--since" in sv.ok("logs", "--help").stdout
    assert sv.ok("--version").stdout.strip() == "syncview, version 0.1.0"


# --- config ---------------------------------------------------------------------------------------

class _Fake:
    settings_schema = (Setting("url", "url"), Setting("api_key", secret=True))


@pytest.fixture
def fake_kind(monkeypatch):
    """A ``fake`` connector kind with a secret setting, whatever connectors are installed."""
    real = config.settings_schema_for

    def schema(kind: str):
        return _Fake.settings_schema if kind == "fake" else real(kind)

    monkeypatch.setattr(config, "settings_schema_for", schema)


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


GOOD = '[[integrations]]\nname = "Lab"\nkind = "fake"\nurl = "https://lab.example"\napi_key = "env:LAB_KEY"\n'


def test_a_broken_toml_file_is_named_with_its_line(sv, db, tmp_path):
    path = write_config(tmp_path, '[store]\npath = "x.db"\n\n[[integrations]\nname = "Lab"\n')
    before = snapshot(db)
    message = sv.fails("--config", str(path), "status")
    assert f"config error in {path}, line 4" in message
    assert snapshot(db) == before


def test_an_unknown_kind_lists_the_known_ones(sv, db, tmp_path):
    path = write_config(tmp_path, '[[integrations]]\nname = "Lab"\nkind = "connectwize"\n')
    before = snapshot(db)
    message = sv.fails("status", env={"SYNCVIEW_CONFIG": str(path)})
    assert str(path) in message and 'kind "connectwize" is unknown' in message and "known kinds:" in message
    assert snapshot(db) == before


def test_a_missing_env_secret_is_named_not_shown(sv, db, tmp_path, fake_kind, monkeypatch):
    path = write_config(tmp_path, GOOD)
    monkeypatch.delenv("LAB_KEY", raising=False)
    before = snapshot(db)
    message = sv.fails("--config", str(path), "config", "--check")
    assert 'integration "Lab", setting api_key' in message and "LAB_KEY is not set" in message
    assert snapshot(db) == before

    monkeypatch.setenv("LAB_KEY", "s3cret-value")
    result = sv.ok("--config", str(path), "config", "--check")
    assert "Every secret reference resolves" in result.stdout and "s3cret-value" not in result.output


def test_a_literal_secret_in_the_file_is_refused_without_echoing_it(sv, db, tmp_path, fake_kind):
    path = write_config(tmp_path, GOOD.replace("env:LAB_KEY", "hunter2-literal"))
    message = sv.fails("--config", str(path), "status")
    assert "api_key is a secret and must not be written in the file" in message
    assert "hunter2-literal" not in message


def test_config_json_shows_references_and_leaves_the_store_alone(sv, db, tmp_path, fake_kind):
    path = write_config(tmp_path, GOOD)
    before = snapshot(db)
    described = sv.json("--config", str(path), "config")
    assert described["config"] == str(path) and described["store"] == str(db)
    assert described["integrations"][0]["settings"]["api_key"] == "env:LAB_KEY"
    assert snapshot(db) == before


def test_configured_integrations_are_registered_in_the_store(sv, db, tmp_path, fake_kind):
    path = write_config(tmp_path, GOOD)
    lab = next(i for i in sv.json("--config", str(path), "status")["integrations"] if i["name"] == "Lab")
    assert (lab["kind"], lab["total"], lab["last_synced_at"]) == ("fake", 0, None)
    assert "never" in sv.ok("--config", str(path), "status").stdout


def test_a_missing_config_file_that_was_asked_for(sv, db, tmp_path):
    assert "does not exist" in sv.fails("--config", str(tmp_path / "nope.toml"), "status")


# --- the real entry point -------------------------------------------------------------------------

def test_python_dash_m_syncview_runs_status_json(db):
    done = subprocess.run([sys.executable, "-m", "syncview", "--db", str(db), "status", "--json"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert {i["name"] for i in report["integrations"]} == {PSA, RMM}
    assert sum(i["total"] + i["removed"] for i in report["integrations"]) == query(
        db, "SELECT count(*) FROM resource")[0][0]


def test_assert_one_line_failure_rejects_a_traceback():
    """The helper every failure test leans on must itself catch what it claims to."""

    class Fake:
        exit_code = 1
        stdout = ""
        stderr = "Traceback (most recent call last):\nboom\n"
        output = stderr

    with pytest.raises(AssertionError):
        assert_one_line_failure(Fake())

