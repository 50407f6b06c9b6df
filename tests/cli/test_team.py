"""A team on one store: who acts (the operator's name in the audit trail)."""

from __future__ import annotations

import getpass

import pytest

from tests.helpers import rows


def _matched(sv) -> int:
    return next(r["id"] for r in sv.json("resources", "--limit", "50")["resources"] if r["status"] == "matched")


def _operators(db, resource_id: int) -> list[str]:
    from syncview.store import open_store

    store = open_store(db)
    try:
        return [r[0] for r in rows(store, "SELECT operator FROM audit_event WHERE resource_id = ? ORDER BY id",
                                   resource_id)]
    finally:
        store.close()


def test_the_config_names_the_operator_in_the_audit_trail(sv, db, tmp_path, monkeypatch):
    monkeypatch.delenv("SYNCVIEW_OPERATOR")
    config = tmp_path / "config.toml"
    config.write_text('[operator]\nname = "carol"\n')
    resource_id = _matched(sv)
    sv.ok("--config", str(config), "exclude", str(resource_id))
    sv.ok("--config", str(config), "undo")  # carol's own last action, found by her name
    assert _operators(db, resource_id) == ["carol", "carol"]


def test_without_a_name_the_login_name_acts_and_the_environment_wins_over_the_config(sv, db, tmp_path,
                                                                                       monkeypatch):
    monkeypatch.delenv("SYNCVIEW_OPERATOR")
    resource_id = _matched(sv)
    sv.ok("exclude", str(resource_id))
    config = tmp_path / "config.toml"
    config.write_text('[operator]\nname = "carol"\n')
    sv.ok("--config", str(config), "include", str(resource_id), env={"SYNCVIEW_OPERATOR": "dave"})
    assert _operators(db, resource_id) == [getpass.getuser(), "dave"]


@pytest.mark.parametrize("value", ['""', '"   "', "42", '"a\\nb"', '"' + "x" * 65 + '"'])
def test_a_bad_operator_name_is_one_line_naming_the_key(sv, tmp_path, value):
    config = tmp_path / "config.toml"
    config.write_text(f"[operator]\nname = {value}\n")
    line = sv.fails("--config", str(config), "status", code=1)
    assert "operator.name" in line
