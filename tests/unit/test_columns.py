"""The resource row and the table's columns, described once (services/columns.py)."""

from __future__ import annotations

import dataclasses
import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from syncview.cli import cli
from syncview.services import columns, queries
from syncview.services.columns import Column, ResourceRow, row_query, to_rows
from syncview.tui.widgets.resource_table import layout_columns
from tests.helpers import rows


def test_rows_are_read_by_name_whatever_order_the_query_selects(demo_store):
    wanted = row_query().order_by(columns.R.id).limit(50)
    reversed_ = select(*reversed(list(wanted.selected_columns))).select_from(*wanted.get_final_froms())
    reversed_ = reversed_.order_by(columns.R.id).limit(50)
    with demo_store.read() as conn:
        assert list(to_rows(conn.execute(reversed_))) == list(to_rows(conn.execute(wanted)))
    [(rid, name, status)] = rows(demo_store, "SELECT id, name, status FROM resource ORDER BY id LIMIT 1")
    first = queries.get_resource(demo_store, rid)
    assert (first.id, first.name, first.status.value) == (rid, name, status)


def test_a_result_without_a_field_fails_loudly(demo_store):
    query = select(*(c for c in row_query().selected_columns if c.name != "last_seen"))
    query = query.select_from(*row_query().get_final_froms()).limit(1)
    with demo_store.read() as conn, pytest.raises(KeyError, match="last_seen"):
        next(to_rows(conn.execute(query)))


def test_a_field_that_does_not_say_where_it_is_read_from_is_refused():
    @dataclasses.dataclass(frozen=True)
    class Row:
        id: int = dataclasses.field(metadata=columns.value(columns.R.id))
        name: str = ""

    with pytest.raises(TypeError, match=r"Row\.name does not say where it is read from"):
        columns._values(Row)


def test_an_unknown_column_fails_loudly_instead_of_showing_another():
    assert columns.column("last_seen").label == "Last seen"
    with pytest.raises(KeyError, match="no resource column 'seen'; columns: name, type, status"):
        columns.column("seen")
    with pytest.raises(ValueError, match="cannot sort by 'seen'"):
        queries.resource_page(None, queries.ResourceFilter(None), sort="seen")  # type: ignore[arg-type]


def test_exports_carry_every_field_in_field_order():
    assert columns.EXPORT_FIELDS == tuple(f.name for f in dataclasses.fields(ResourceRow))
    assert columns.EXPORT_FIELDS[:3] == ("id", "integration_id", "type")


def test_a_column_added_to_the_spec_reaches_the_cli_and_the_screen(demo_store, store_path, monkeypatch):
    added = Column("external_id", "External id", columns.R.external_id,
                   lambda row, clean: clean(row.external_id), width=12)
    monkeypatch.setattr(columns, "SHOWN", (*columns.SHOWN, added))

    assert added in [column for column, _ in layout_columns(200)]
    demo_store.close()
    run = CliRunner(env={"COLUMNS": "250"}).invoke
    args = ["--db", str(store_path), "resources", "--limit", "1"]
    table = run(cli, args, catch_exceptions=False).stdout.splitlines()
    [first] = json.loads(run(cli, [*args, "--json"], catch_exceptions=False).stdout)["resources"]
    assert table[0].split()[-2:] == ["External", "id"]
    assert table[1].split()[-1] == first["external_id"]


def test_cells_say_what_the_row_is_and_clean_what_came_from_outside(demo_store):
    [(rid,)] = rows(demo_store, "SELECT id FROM resource WHERE record_id IS NOT NULL LIMIT 1")
    row = queries.get_resource(demo_store, rid)
    record = columns.column("record")
    assert record.text(row, str) == row.record_name
    assert record.text(dataclasses.replace(row, record_disabled=True), str) == f"{row.record_name} (disabled)"
    assert record.text(dataclasses.replace(row, record_name=None), str) == "—"
    removed = dataclasses.replace(row, deleted_remotely=True, name="PC\x1b]52;c;x\x07")
    assert columns.column("name").text(removed, repr) == repr(removed.name) + " (removed remotely)"
    assert columns.column("status").tone(row) == row.status.value.replace("_", "-")


def test_single_valued_names_the_columns_every_row_of_a_result_agrees_on(demo_store):
    """What the narrow screen names once instead of a column: read from the kept counts, or from
    the result when there is text or a reason, and the same as the rows themselves say."""
    from syncview.domain import MatchedOn, ResourceType, SyncStatus
    from syncview.services.queries import ResourceFilter

    [(integration_id,)] = rows(demo_store, "SELECT integration_id FROM resource GROUP BY integration_id "
                                           "ORDER BY count(*) DESC LIMIT 1")
    filters = [ResourceFilter(integration_id), ResourceFilter(integration_id, type=ResourceType.DEVICE),
               ResourceFilter(integration_id, status=SyncStatus.MATCHED),
               ResourceFilter(integration_id, type=ResourceType.CONTACT, status=SyncStatus.EXCLUDED),
               ResourceFilter(integration_id, text="lt"), ResourceFilter(integration_id, text="lt-0"),
               ResourceFilter(integration_id, why=MatchedOn.SERIAL), ResourceFilter(integration_id, text="no such name")]
    for flt in filters:
        found = list(queries.iter_resources(demo_store, flt))
        agreed = frozenset(key for key, values in (("type", {r.type for r in found}), ("status", {r.status for r in found}))
                           if len(values) == 1)
        assert queries.single_valued(demo_store, flt) == agreed, flt
    assert queries.single_valued(demo_store, filters[1]) >= {"type"}
    assert queries.single_valued(demo_store, filters[-1]) == frozenset()
