"""Fuzzing the text path: any name a product can send is only text, wherever it shows.

Hypothesis builds names out of Rich/Textual markup, control and bidi characters, lone
surrogates, combining marks, wide characters and very long runs; each example syncs a batch of
them for real (the files connector reading a JSON export), writes the CSV and JSON exports, and
drives the screen as an operator would: the table, a notice, the sync logs, an exclusion and the
history. Nothing may crash, no character a terminal would act on may reach the screen raw, and
each name shows exactly as ``printable`` writes it (its characters as they are, or escaped).

Bounded for CI on 2 cores: a few examples, each with a deadline.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import tempfile
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from rich.text import Text
from textual.widgets import DataTable
from textual.widgets._toast import Toast

from syncview import render
from syncview.safe_text import SCREEN_LIMIT, printable
from syncview.services import columns, queries
from syncview.services.queries import ResourceFilter
from syncview.store import open_store
from syncview.tui.app import SyncviewApp
from syncview.tui.screens.history import HistoryScreen
from syncview.tui.screens.logs import SyncLogsDialog
from syncview.tui.widgets.resource_table import ResourceTable
from tests.tui.conftest import settle, table_lines
from tests.tui.test_hostile_text import INTEGRATION, plain, sync_names

#: What must never reach a screen, a CSV cell or a JSON text raw: C0/C1 controls, DEL, the
#: invisible direction marks and format characters, line separators, bidi controls, lone surrogates.
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ud800-\udfff]")

MARKUP = ["[", "]", "[/]", "[b]", "[/b]", "[@click=app.quit]", "[link=https://x.test/]", "\\[", "[red on blue]",
          "[/link]", "$name", "{0}", "%s", "=HYPERLINK(", "[]"]
pieces = st.one_of(
    st.sampled_from(MARKUP),
    st.integers(0, 0x1F).map(chr), st.integers(0x7F, 0x9F).map(chr),
    st.sampled_from(list("\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200b\ufeff\u2028")),
    st.integers(0xD800, 0xDFFF).map(chr),  # half an emoji
    st.integers(0x300, 0x36F).map(chr),  # combining marks
    st.sampled_from(["😀", "中文", "e\u0301", "ﷺ", "\u00a0"]),
    st.text(max_size=6),
)
names = st.one_of(
    st.lists(pieces, min_size=1, max_size=8).map("".join),
    st.sampled_from(["X" * 5000, "[" * 3000, "\u202e" * 500 + "exe.pdf"]),  # very long
)


def _cell_text(cell) -> str:
    """A table cell's characters (a Text's plain text; a str as it is)."""
    return cell.plain if isinstance(cell, Text) else str(cell)


def _exports(store, integration_id: int) -> tuple[str, str]:
    flt = ResourceFilter(integration_id)
    out_csv, out_json = io.StringIO(), io.StringIO()
    render.write_csv(queries.iter_resources(store, flt), out_csv)
    render.write_json(queries.iter_resources(store, flt), out_json)
    return out_csv.getvalue(), out_json.getvalue()


async def _drive(app: SyncviewApp, stored: dict[int, str]) -> None:
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(ResourceTable)
        for line in table_lines(app):
            assert not UNSAFE.search(line), repr(line)
        name_column = next(c for c in columns.COLUMNS if c.key == "name")
        for resource_id, name in stored.items():  # the Name cell is the name, escaped or as it is
            row = queries.get_resource(app.store, resource_id)
            assert table._cell(row, name_column)[0].startswith(printable(name, limit=SCREEN_LIMIT))
        # A notice that names the row under the cursor ("... is not excluded").
        row = table.current_row
        assert row is not None
        await pilot.press("i")
        await settle(pilot)
        notices = [plain(Toast(n).render()) for n in app._notifications]
        assert any(printable(row.name)[:40] in " ".join(n.split("\n")) for n in notices) or len(
            printable(row.name)) > 250, notices
        # The sync logs: every skipped row is named there.
        await pilot.press("l")
        await settle(pilot)
        assert isinstance(app.screen, SyncLogsDialog)
        cells = app.screen.query_one(DataTable)
        for index in range(cells.row_count):
            for cell in cells.get_row_at(index):
                assert not UNSAFE.search(_cell_text(cell)), repr(_cell_text(cell))
        await pilot.press("escape")
        await settle(pilot)
        # Exclude the row, then read the history.
        await pilot.press("x")
        await settle(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
        await pilot.press("h")
        await settle(pilot)
        assert isinstance(app.screen, HistoryScreen)
        history = app.screen.query_one(DataTable)
        text = " ".join(_cell_text(c) for i in range(history.row_count) for c in history.get_row_at(i))
        assert not UNSAFE.search(text)
        assert app.is_running


# No shrinking: a failure is reported with its example at once, not after minutes of shrinking.
@settings(max_examples=5, deadline=timedelta(seconds=90), derandomize=True,
          phases=(Phase.explicit, Phase.reuse, Phase.generate),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(names, min_size=2, max_size=5))
@example(["Workstation [/]", "[DECOM] Server01", "[@click=app.quit]quit[/]", "half \ud83d", "\u202eexe.pdf"])
def test_any_name_is_only_text_through_sync_exports_and_the_screen(batch):
    with tempfile.TemporaryDirectory() as directory:
        store = open_store(Path(directory) / "fuzz.db")
        try:
            sync_names(store, Path(directory), [f"{name} #{n}" for n, name in enumerate(batch)])
            integration = queries.get_integration(store, INTEGRATION)
            stored = {r.id: r.name for r in queries.iter_resources(store, ResourceFilter(integration.id))}
            # Every name that can be stored is; the others are named in a warning.
            for n, name in enumerate(batch):
                full = f"{name} #{n}".strip()
                try:
                    full.encode("utf-8")
                except UnicodeEncodeError:
                    assert full not in stored.values()
            # CSV and JSON: the values come back exactly (JSON) or inert (CSV), nothing raw.
            text_csv, text_json = _exports(store, integration.id)
            # (JSON and CSV lines end in line breaks of their own: those are not in a value)
            assert not UNSAFE.search(text_json.replace("\n", ""))
            assert not UNSAFE.search(text_csv.replace("\r\n", ""))
            assert {r["id"]: r["name"] for r in json.loads(text_json)} == stored
            csv_names = {int(r["id"]): r["name"] for r in csv.DictReader(io.StringIO(text_csv))}
            assert csv_names == {i: render.inert(n) for i, n in stored.items()}
            asyncio.run(_drive(SyncviewApp(store, operator="fuzz"), stored))
        finally:
            store.close()
