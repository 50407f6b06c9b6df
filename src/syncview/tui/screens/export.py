"""The Export dialog: the current view (its filters) or the marked rows, to a CSV or JSON file.

The rows are written by :mod:`syncview.render`, the same writers as ``syncview export``:
CSV cells are made inert for spreadsheets, JSON escapes what a terminal would act on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from syncview.tui.widgets.tiles import number
from syncview.tui.text import shown


@dataclass(frozen=True, slots=True)
class ExportChoice:
    path: Path
    format: str
    #: "view" or "marked"
    scope: str


def default_path(integration: str, fmt: str, *, directory: Path | None = None,
                 now: datetime | None = None) -> Path:
    """``syncview-<integration>-<date-time>.<fmt>`` in the working directory."""
    slug = re.sub(r"[^a-z0-9]+", "-", integration.lower()).strip("-") or "resources"
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M")
    return (directory or Path.cwd()) / f"syncview-{slug}-{stamp}.{fmt}"


class ExportDialog(ModalScreen[ExportChoice | None]):
    """Asks where and what; the overview writes the file (in a worker) once it is answered."""

    CSS_PATH = "dialogs.tcss"
    BINDING_GROUP_TITLE = "Export"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Cancel", id="export.cancel"),
        Binding("ctrl+s", "export", "Export", id="export.confirm"),
    ]

    def __init__(self, integration: str, *, view_count: int | None, marked_count: int | None,
                 describe: str) -> None:
        super().__init__()
        self.integration = integration
        self.view_count = view_count
        self.marked_count = marked_count
        self.describe = describe

    def compose(self) -> ComposeResult:
        scopes: list[tuple[str, str]] = [(f"Current view ({self._n(self.view_count)})", "view")]
        if self.marked_count:
            scopes.insert(0, (f"Marked rows ({self._n(self.marked_count)})", "marked"))
        with Vertical(classes="dialog") as box:
            box.border_title = "Export resources"
            yield Static(shown(self.describe, limit=200, style="dim"), classes="question")
            with Horizontal(classes="range"):
                yield Select(scopes, value=scopes[0][1], allow_blank=False, compact=True, id="scope")
                yield Select([("CSV", "csv"), ("JSON", "json")], value="csv", allow_blank=False, compact=True,
                             id="format")
            yield Label("File (enter exports)")
            yield Input(str(default_path(self.integration, "csv")), compact=True, id="path")
            with Horizontal(classes="buttons"):
                yield Button("Export", variant="primary", compact=True, id="export")
                yield Button("Cancel", compact=True, id="cancel")

    @staticmethod
    def _n(count: int | None) -> str:
        return "…" if count is None else number(count)

    def on_mount(self) -> None:
        self.set_focus(self.query_one("#path", Input))

    @on(Select.Changed, "#format")
    def _format_changed(self, event: Select.Changed) -> None:
        box = self.query_one("#path", Input)
        path = Path(box.value)
        if path.suffix.lower() in (".csv", ".json"):
            box.value = str(path.with_suffix(f".{event.value}"))

    @on(Input.Submitted, "#path")
    @on(Button.Pressed, "#export")
    def action_export(self) -> None:
        text = self.query_one("#path", Input).value.strip()
        if not text:
            self.notify("Give a file to write", severity="warning", timeout=3)
            return
        path = Path(text).expanduser()
        if not path.is_absolute():
            path = Path.cwd() / path
        if path.is_dir():
            path = path / default_path(self.integration, str(self.query_one("#format", Select).value)).name
        self.dismiss(ExportChoice(path, str(self.query_one("#format", Select).value),
                                  str(self.query_one("#scope", Select).value)))

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

