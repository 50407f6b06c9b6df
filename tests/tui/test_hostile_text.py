"""Names from a product are only text on the screen: never markup, never a live link or action.

The names are synced for real (the files connector reads a JSON export), then the screen is
driven as an operator would: the table, a notice, the logs dialog, the history.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console
from textual.widgets import DataTable

from syncview.connectors.files import FilesConnector
from syncview.services.sync import sync_connector
from syncview.store import Store
from syncview.tui.app import SyncviewApp
from syncview.tui.screens.history import HistoryScreen
from syncview.tui.screens.logs import SyncLogsDialog
from tests.tui.conftest import row_names, settle

INTEGRATION = "Files [b]bold[/b]"
NAMES = ["Workstation [/]", "[DECOM] Server01", "[link=https://x.test/]here[/link]", "[@click=app.quit]quit[/]",
         "bidi \u202eexe.pdf", "tab\tand\x1b[2J clear"]


def sync_names(store: Store, directory: Path, names: list[str], *, integration: str = INTEGRATION) -> None:
    """Sync one client and a device per name (ids 1..n) from a JSON export, as the files connector reads it."""
    rows = [{"id": "c1", "name": "Acme Corp", "type": "client"}]
    rows += [{"id": str(n), "name": name, "type": "device", "company": "Acme Corp"}
             for n, name in enumerate(names, start=1)]
    path = directory / "export.json"
    # ensure_ascii keeps lone surrogates as \\udXXX escapes, as a UTF-16 product writes them.
    path.write_text(json.dumps(rows), encoding="utf-8")
    sync_connector(store, FilesConnector(integration, {"path": str(path)}))


def plain(renderable) -> str:
    """What ``renderable`` shows, as text without styles."""
    console = Console(width=400, color_system=None, force_terminal=False, highlight=False)
    with console.capture() as capture:
        console.print(renderable)
    return capture.get()


def notices(app) -> list[str]:
    """Each notification as its toast paints it."""
    from textual.widgets._toast import Toast
    return [plain(Toast(n).render()) for n in app._notifications]


@pytest.fixture
def hostile_app(store: Store, tmp_path: Path) -> SyncviewApp:
    sync_names(store, tmp_path, [*NAMES, "half \ud83d emoji"])
    return SyncviewApp(store, operator="[red]tester")


async def test_markup_in_names_is_shown_as_written_everywhere(hostile_app):
    app = hostile_app
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        shown = row_names(app)
        for name in NAMES[:4]:
            assert name in shown
        assert "bidi \\u202eexe.pdf" in shown and "tab\\x09and\\x1b[2J clear" in shown

        # The logs dialog: the skipped row's warning names it, brackets and all (this crashed).
        await pilot.press("l")
        await settle(pilot)
        assert isinstance(app.screen, SyncLogsDialog)
        table = app.screen.query_one(DataTable)
        cells = [plain(cell) for row in range(table.row_count) for cell in table.get_row_at(row)]
        assert any("“half \\ud83d emoji”" in cell for cell in cells), cells
        assert "Files [b]bold[/b]" in app.screen.query_one(".dialog")._border_title.plain  # as painted
        await pilot.press("escape")
        await settle(pilot)

        # A notice names the row as it is: "[DECOM] Server01 is not excluded", not " Server01 ...".
        await pilot.press("slash", *"DECOM", "enter")
        await settle(pilot)
        await pilot.press("i")
        await settle(pilot)
        assert any("[DECOM] Server01 is not excluded" in n for n in notices(app)), notices(app)

        # Exclude the row named like an action, then read it in the history: text, not a live action.
        await pilot.press("slash", "ctrl+a", "ctrl+k", *"quit", "enter")
        await settle(pilot)
        await pilot.press("x")
        await settle(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
        await pilot.press("h")
        await settle(pilot)
        assert isinstance(app.screen, HistoryScreen)
        table = app.screen.query_one(DataTable)
        cells = [cell for row in range(table.row_count) for cell in table.get_row_at(row)]
        assert any("[@click=app.quit]quit[/]" in plain(c) for c in cells), [plain(c) for c in cells]
        assert any("[red]tester" in plain(c) for c in cells)
        for cell in cells:  # no span carries a link or an action
            spans = getattr(cell, "spans", [])
            assert not any(getattr(s.style, "link", None) or getattr(s.style, "meta", None) for s in spans
                           if not isinstance(s.style, str))
        assert app.is_running
