"""Small confirmations: a yes/no naming what will change, and the bulk Exclude dialog."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static, Switch

from syncview.safe_text import printable
from syncview.tui.widgets.tiles import number
from syncview.tui.text import shown


class ConfirmDialog(ModalScreen[bool]):
    """``title`` as the question, ``lines`` saying what will change; y (or ctrl+s) confirms, and
    so does enter unless ``safe_focus``, which puts the focus on Cancel (bulk changes)."""

    CSS_PATH = "dialogs.tcss"
    BINDING_GROUP_TITLE = "Confirmations (include marked, undo, redo, replace a file)"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,n", "dismiss(False)", "Cancel", id="confirm.cancel"),
        Binding("y,ctrl+s", "dismiss(True)", "Confirm", id="confirm.yes"),
    ]

    def __init__(self, title: str, lines: Iterable[str], *, confirm: str = "Confirm", more: int = 0,
                 danger: bool = False, safe_focus: bool = False) -> None:
        super().__init__()
        self._safe_focus = safe_focus or danger
        self.title_text = title
        self._lines = list(lines)
        self._confirm_label = confirm
        self._more = more
        self._danger = danger

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as box:
            box.border_title = shown(self.title_text, limit=70)
            body = Text()
            for index, line in enumerate(self._lines):
                if index:  # our line break, apart: shown() escapes a newline inside outside text
                    body.append("\n")
                body.append_text(shown(line, limit=200))
            if self._more:
                body.append(f"\n… and {number(self._more)} more", style="dim")
            yield Static(body, classes="question", id="what")
            with Horizontal(classes="buttons"):
                yield Button(shown(self._confirm_label), variant="error" if self._danger else "primary", compact=True,
                             id="yes")
                yield Button("Cancel", compact=True, id="no")

    def on_mount(self) -> None:
        self.set_focus(self.query_one("#no" if self._safe_focus else "#yes", Button))

    @on(Button.Pressed, "#yes")
    def _yes(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#no")
    def _no(self) -> None:
        self.dismiss(False)


class BulkExcludeDialog(ModalScreen[bool | None]):
    """Exclude every marked resource; dismisses with the "Disable records" choice, None on cancel."""

    CSS_PATH = "dialogs.tcss"
    BINDING_GROUP_TITLE = "Exclude marked resources"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Cancel", id="bulk_exclude.cancel"),
        Binding("ctrl+s", "confirm", "Exclude", id="bulk_exclude.confirm"),
    ]

    def __init__(self, count: int, description: str) -> None:
        super().__init__()
        self.count = count
        self.description = description

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as box:
            box.border_title = "Exclude marked resources"
            yield Static(Text.assemble(
                "Exclude ", (f"{number(self.count)} marked resource{'s' if self.count != 1 else ''}", "bold"),
                f" ({printable(self.description, limit=120)})? Those already excluded are left as they are. "
                "One undo (u) puts them all back."), classes="question")
            with Horizontal(classes="switch-row"):
                yield Switch(value=False, id="disable-records")
                yield Label("Disable their records")
            with Horizontal(classes="buttons"):
                yield Button(shown(f"Exclude {number(self.count)}"), variant="error", compact=True, id="confirm")
                yield Button("Cancel", compact=True, id="cancel")

    def on_mount(self) -> None:
        # The safe choice: enter must not exclude every marked resource at once (ctrl+s does).
        self.set_focus(self.query_one("#cancel", Button))

    @on(Button.Pressed, "#confirm")
    def action_confirm(self) -> None:
        self.dismiss(self.query_one("#disable-records", Switch).value)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)
