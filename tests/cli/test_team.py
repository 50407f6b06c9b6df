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


# --- replay: an offline copy's actions back on the team store ------------------------------------

def _resources(sv, db, status: str, n: int, **kwargs) -> list[dict]:
    found = [r for r in sv.json("resources", "--limit", "400", db=db, **kwargs)["resources"] if r["status"] == status]
    assert len(found) >= n
    return found[:n]


def _state(db, resource_id: int) -> tuple:
    from syncview.store import open_store

    store = open_store(db)
    try:
        return rows(store, "SELECT status, record_id, updated_by FROM resource WHERE id = ?", resource_id)[0]
    finally:
        store.close()


def test_replay_brings_the_copys_actions_back_once_each_and_lists_the_conflicts(sv, db, tmp_path):
    copy = tmp_path / "laptop.db"
    sv.ok("backup", str(copy))
    alice, bob = {"SYNCVIEW_OPERATOR": "alice"}, {"SYNCVIEW_OPERATOR": "bob"}
    r1, r2, r3 = _resources(sv, db, "matched", 3)
    [r4] = _resources(sv, db, "excluded", 1)
    record = next(c["record"]["id"] for c in sv.json("candidates", str(r2["id"]), "--limit", "50", db=copy)
                  if c["linked_to"] is None)

    # On the road, on the copy: alice excludes r1, re-matches r2, excludes r3 and undoes that,
    # and includes r4.
    sv.ok("exclude", str(r1["id"]), "--disable-record", db=copy, env=alice)
    sv.ok("rematch", str(r2["id"]), str(record), db=copy, env=alice)
    sv.ok("exclude", str(r3["id"]), db=copy, env=alice)
    sv.ok("undo", db=copy, env=alice)
    sv.ok("include", str(r4["id"]), db=copy, env=alice)
    # Meanwhile at the office, bob excludes r2.
    sv.ok("exclude", str(r2["id"]), db=db, env=bob)

    result = sv.run("replay", str(copy))
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert len([line for line in lines if line.startswith("✓")]) == 4
    [conflict] = [line for line in lines if line.startswith("✗")]
    assert "alice: " in conflict and r2["name"] in conflict and "changed by bob at " in conflict
    assert conflict.endswith("after the copy was made (not applied)")
    assert lines[-1] == "4 actions replayed, 1 conflict, 0 already in this store"

    assert _state(db, r1["id"]) == ("excluded", None, "alice")
    assert _state(db, r2["id"])[0::2] == ("excluded", "bob")  # bob's change stands
    assert _state(db, r3["id"])[0] == "matched"
    assert _state(db, r4["id"])[0::2] == ("not_synced", "alice")

    # Again: nothing applied twice, the conflict still listed.
    again = sv.run("replay", str(copy))
    assert again.exit_code == 1
    assert again.stdout.splitlines()[-1] == "0 actions replayed, 1 conflict, 4 already in this store"

    # The replayed actions are alice's in the team store: her undo reverts her last one (r4's include),
    # then the one before it (r3's exclude was undone on the copy already, so r1's exclude).
    sv.ok("undo", db=db, env=alice)
    assert _state(db, r4["id"])[0] == "excluded"
    sv.ok("undo", db=db, env=alice)
    assert _state(db, r1["id"])[0] == "matched"


def test_replay_refuses_what_is_no_store_and_the_store_itself(sv, db, tmp_path):
    junk = tmp_path / "notes.txt"
    junk.write_text("hello")
    assert "not a syncview store" in sv.fails("replay", str(junk), code=1)
    if isinstance(db, str):  # a PostgreSQL store: its URL is no copy
        assert "is a database; replay takes an offline copy file" in sv.fails("replay", db, code=1)
    else:
        assert "is the store itself" in sv.fails("replay", str(db), code=1)


def test_an_undo_on_the_copy_of_an_action_taken_before_it_was_made_is_replayed_as_that_undo(sv, db, tmp_path):
    alice = {"SYNCVIEW_OPERATOR": "alice"}
    [r1] = _resources(sv, db, "matched", 1)
    sv.ok("exclude", str(r1["id"]), db=db, env=alice)  # at the office
    copy = tmp_path / "laptop.db"
    sv.ok("backup", str(copy))
    sv.ok("undo", db=copy, env=alice)  # on the road: alice takes it back
    assert sv.ok("replay", str(copy)).stdout.splitlines()[-1] == \
        "1 action replayed, 0 conflicts, 0 already in this store"
    assert _state(db, r1["id"])[0] == "matched"
    # The office exclusion is marked undone: alice has nothing left to undo there, and can redo it.
    assert "nothing to undo for alice" in sv.fails("undo", db=db, env=alice, code=1)
    sv.ok("redo", db=db, env=alice)
    assert _state(db, r1["id"])[0] == "excluded"
