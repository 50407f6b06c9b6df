"""Pilot fixtures: the real app over a real demo store, driven by key presses."""

from __future__ import annotations

import pytest
from rich.console import Console
from textual.worker import WorkerCancelled

from syncview.store import Store
from syncview.tui.app import SyncviewApp
from syncview.tui.widgets.resource_table import ResourceTable


async def settle(pilot) -> None:
    """Wait until every worker has finished and every message it posted is handled."""
    app = pilot.app
    for _ in range(50):
        await pilot.pause()
        try:
            await app.workers.wait_for_complete()
        except WorkerCancelled:
            pass  # a newer read made one moot and the app cancelled it, as it should: look again
        await pilot.pause()
        if not any(worker.is_running for worker in app.workers):
            return
    raise AssertionError("the app never settled")


def table_lines(app) -> list[str]:
    """The Sync Status table as painted: the header, then one text line per row in view."""
    table = app.screen.query_one(ResourceTable)
    return [table.render_line(y).text.rstrip() for y in range(table.scrollable_content_region.height)]


def row_names(app) -> list[str]:
    """Names of the rows in view (the Name column, the mark gutter "● " taken off),
    placeholders and blanks left out."""
    lines = [line.strip().removeprefix("●").strip() for line in table_lines(app)[1:]]
    return [line.split("  ")[0] for line in lines if line and not line.startswith("…")]


def static_text(widget) -> str:
    """What a Static shows, as plain text (its content rendered at 120 columns)."""
    console = Console(width=120, color_system=None, record=False)
    with console.capture() as capture:
        console.print(widget.content)
    return capture.get()


@pytest.fixture
def app(demo_store: Store) -> SyncviewApp:
    return SyncviewApp(demo_store, operator="tester")


@pytest.fixture
def engine() -> str:
    """These tests are about the screen and the connectors, not the store: SQLite alone."""
    return "sqlite"
