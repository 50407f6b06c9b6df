"""``syncview sync`` and ``syncview connectors`` through the real command group."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from syncview.cli import cli
from tests.helpers import rows


CONFIG = """
[[integrations]]
name = "Demo PSA"
kind = "demo"
flavour = "psa"
resources = 400

[[integrations]]
name = "Demo RMM"
kind = "demo"
flavour = "rmm"
resources = 400
create_missing = true

[[integrations]]
name = "Old export"
kind = "files"
path = "{missing}"
enabled = {enabled}
"""


@pytest.fixture
def config(tmp_path: Path):
    def make(enabled: bool = False) -> Path:
        path = tmp_path / "config.toml"
        path.write_text(CONFIG.format(missing=tmp_path / "gone.csv", enabled=str(enabled).lower()), encoding="utf-8")
        return path
    return make


def invoke(tmp_path: Path, config: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--db", str(tmp_path / "s.db"), "--config", str(config), *args],
                              catch_exceptions=False)


def test_sync_one_integration_prints_plain_lines_off_a_terminal(tmp_path, config):
    result = invoke(tmp_path, config(), "sync", "demo psa")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "Demo PSA: syncing (demo)..."
    assert lines[-1].startswith("Demo PSA: success in ") and "fetched" in lines[-1]
    assert rows(open_db(tmp_path), "SELECT outcome FROM syncrun") == [("success",)]


def open_db(tmp_path: Path):
    from syncview.store import open_store

    return open_store(tmp_path / "s.db")


def test_sync_all_json_reports_every_enabled_run(tmp_path, config):
    result = invoke(tmp_path, config(), "sync", "--all", "--json")

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert [r["integration"] for r in report["runs"]] == ["Demo PSA", "Demo RMM"]  # the disabled one is skipped
    rmm = report["runs"][1]
    assert rmm["outcome"] == "success" and rmm["full"] is True
    assert rmm["counts"]["created"] > 0 and rmm["counts"]["not_synced"] == 0  # create_missing from the config


def test_a_failed_sync_exits_1_with_one_error_line_and_the_others_still_run(tmp_path, config):
    result = invoke(tmp_path, config(enabled=True), "sync", "--all", "--json")

    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert [(r["integration"], r["outcome"]) for r in report["runs"]] == [
        ("Demo PSA", "success"), ("Demo RMM", "success"), ("Old export", "failed")]
    [line] = result.stderr.splitlines()
    assert line.startswith("syncview: error: 1 of 3 syncs failed: Old export: the file ")
    assert "gone.csv does not exist" in line


def test_naming_a_failing_integration_reports_its_error(tmp_path, config):
    result = invoke(tmp_path, config(enabled=True), "sync", "Old export")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"syncview: error: Old export: the file {tmp_path / 'gone.csv'} does not exist; "
        "check path in the integration's config"]


@pytest.mark.parametrize(("args", "message"), [
    ((), "name the integration to sync, or use --all; known: \"Demo PSA\""),
    (("Demo PSA", "--all"), "give an integration name or --all, not both"),
])
def test_usage_errors(tmp_path, config, args, message):
    result = invoke(tmp_path, config(), "sync", *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_an_unknown_integration_is_named(tmp_path, config):
    result = invoke(tmp_path, config(), "sync", "Demo PAS")
    assert result.exit_code == 1
    assert 'no integration named "Demo PAS" (did you mean "Demo PSA"?)' in result.stderr


def test_a_disabled_integration_named_explicitly_is_refused(tmp_path, config):
    result = invoke(tmp_path, config(), "sync", "Old export")
    assert result.exit_code == 1
    assert "is disabled (enabled = false in the config)" in result.stderr


def test_without_configured_integrations_sync_says_what_to_do(tmp_path):
    empty = tmp_path / "empty.toml"
    empty.write_text("", encoding="utf-8")
    result = invoke(tmp_path, empty, "sync", "--all")
    assert result.exit_code == 2
    assert "no integrations are configured" in result.stderr


def test_connectors_lists_kinds_with_their_settings(tmp_path, config):
    result = invoke(tmp_path, config(), "connectors", "--json")

    assert result.exit_code == 0, result.output
    kinds = {k["kind"]: k for k in json.loads(result.stdout)}
    assert {"demo", "files"} <= set(kinds)
    assert kinds["demo"]["title"] == "Demo MSP"
    path = next(s for s in kinds["files"]["settings"] if s["name"] == "path")
    assert path == {"name": "path", "type": "path", "required": True, "secret": False, "default": None,
                    "help": path["help"]}
    secrets = [s["name"] for k in kinds.values() for s in k["settings"] if s["secret"]]
    assert all(isinstance(name, str) for name in secrets)
    # Which kinds find deletions on an incremental sync too, and a list setting's default.
    assert kinds["connectwise"]["live_ids"] and not kinds["halopsa"]["live_ids"]
    types = next(s for s in kinds["connectwise"]["settings"] if s["name"] == "company_types")
    assert (types["type"], types["default"]) == ("list", ["Client"])


def test_connectors_table(tmp_path, config):
    result = invoke(tmp_path, config(), "connectors")
    assert result.exit_code == 0, result.output
    text = textwrap.dedent(result.stdout)
    assert "Demo MSP" in text and "File import" in text and "flavour" in text
    assert '["Customer"]' in text  # a list default as TOML writes it


def test_on_a_terminal_sync_draws_a_progress_bar(tmp_path, config, monkeypatch):
    import io

    from rich.console import Console

    from syncview import cli_sync

    screen = io.StringIO()
    monkeypatch.setattr(cli_sync, "console", lambda stderr=False: Console(file=screen, force_terminal=True,
                                                                           width=120, markup=False))
    result = invoke(tmp_path, config(), "sync", "Demo RMM")

    assert result.exit_code == 0, result.output
    drawn = screen.getvalue()
    assert "Demo RMM: sites and devices" in drawn  # the bar's description names the entity
    assert "Demo RMM: success in " in drawn


def test_a_demo_store_syncs_with_no_config_and_a_resync_changes_nothing(tmp_path):
    """The first-run demo is syncable as it is: the store remembers how it was seeded."""
    empty = tmp_path / "empty.toml"
    empty.write_text("", encoding="utf-8")
    assert invoke(tmp_path, empty, "demo", "-n", "1500").exit_code == 0
    before = rows(open_db(tmp_path), "SELECT id, status, record_id FROM resource ORDER BY id")

    result = invoke(tmp_path, empty, "sync", "--all", "--json")

    assert result.exit_code == 0, result.output
    runs = json.loads(result.stdout)["runs"]
    assert [r["integration"] for r in runs] == ["ConnectWise Manage", "Datto RMM"]
    assert all(r["outcome"] == "success" and r["counts"]["fetched"] > 0 for r in runs)
    assert all(r["counts"]["new"] == r["counts"]["changed"] == r["counts"]["removed"] == 0 for r in runs)
    after = rows(open_db(tmp_path), "SELECT id, status, record_id FROM resource ORDER BY id")
    assert after == before


def test_quiet_prints_nothing_on_success_and_only_the_error_on_failure(tmp_path, config):
    result = invoke(tmp_path, config(), "sync", "demo psa", "--quiet")
    assert result.exit_code == 0 and result.stdout == "" and result.stderr == ""
    failed = invoke(tmp_path, config(enabled=True), "sync", "Old export", "-q")
    assert failed.exit_code == 1 and failed.stdout == ""
    assert failed.stderr.startswith("syncview: error: ") and len(failed.stderr.splitlines()) == 1
