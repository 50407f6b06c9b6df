"""The Exclude dialog: never sync this resource again, and maybe disable its record."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static, Switch

from syncview.safe_text import printable
from syncview.services.queries import ResourceRow
from syncview.tui.text import shown


class ExcludeDialog(ModalScreen[bool | None]):
    """Dismisses with the "Disable record" choice on Exclude, None on Cancel."""

    CSS_PATH = "dialogs.tcss"
    BINDING_GROUP_TITLE = "Exclude"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Cancel", id="exclude.cancel"),
        Binding("ctrl+s", "confirm", "Exclude", id="exclude.confirm"),
    ]

    def __init__(self, row: ResourceRow) -> None:
        super().__init__()
        self.row = row

    def compose(self) -> ComposeResult:
        row = self.row
        with Vertical(classes="dialog") as box:
            box.border_title = "Exclude record"
            yield Static(Text.assemble(
                f"Exclude {row.type.label.lower()} ", shown(row.name, limit=80, style="bold"),
                "? It stays Excluded through every sync until you include it again.",
            ), classes="question")
            record = printable(row.record_name, limit=60) if row.record_name else None
            with Horizontal(classes="switch-row"):
                yield Switch(value=False, id="disable-record", disabled=record is None)
                yield Label(shown(f"Disable record “{record}”") if record else "Disable record (none linked)")
            with Horizontal(classes="buttons"):
                yield Button("Exclude", variant="error", compact=True, id="confirm")
                yield Button("Cancel", compact=True, id="cancel")

    def on_mount(self) -> None:
        # The safe choice: enter right after x must not exclude at once (ctrl+s does, on purpose).
        self.set_focus(self.query_one("#cancel", Button))

    @on(Button.Pressed, "#confirm")
    def action_confirm(self) -> None:
        self.dismiss(self.query_one("#disable-record", Switch).value)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)
