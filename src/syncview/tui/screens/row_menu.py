"""The action menu of one row of the Sync Status table."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from syncview.domain import SyncStatus
from syncview.services.queries import ResourceRow
from syncview.tui.keys import bound_keys
from syncview.tui.text import shown


class RowMenu(ModalScreen[str | None]):
    """Re-match, exclude, include or inspect one resource; dismisses with the action's name."""

    CSS_PATH = "dialogs.tcss"
    BINDING_GROUP_TITLE = "A row's actions (enter in the table)"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Close", id="menu.close"),
        Binding("m", "choose('rematch')", "Re-match", show=False, id="menu.rematch"),
        Binding("x", "choose('exclude')", "Exclude", show=False, id="menu.exclude"),
        Binding("i", "choose('include')", "Include", show=False, id="menu.include"),
        Binding("d", "choose('details')", "Details", show=False, id="menu.details"),
    ]

    def __init__(self, row: ResourceRow) -> None:
        super().__init__()
        self.row = row

    def compose(self) -> ComposeResult:
        excluded = self.row.status is SyncStatus.EXCLUDED

        def option(label: str, action: str, *, disabled: bool = False) -> Option:
            # The key as bound now: [keymap] may have moved it (and a key is text, never markup).
            return Option(shown(f"{label:<20}{bound_keys(self.app, RowMenu, f'menu.{action}')}"), id=action,
                          disabled=disabled)

        with Vertical(classes="dialog menu") as box:
            box.border_title = shown(f"{self.row.type.label} {self.row.name}", limit=70)
            yield OptionList(
                option("Re-match record…", "rematch"),
                option("Exclude record…", "exclude", disabled=excluded),
                option("Include record", "include", disabled=not excluded),
                option("Show details", "details"),
            )

    def on_mount(self) -> None:
        menu = self.query_one(OptionList)
        menu.highlighted = 1 if self.row.status is SyncStatus.NOT_SYNCED else 0

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_choose(self, action: str) -> None:
        option = self.query_one(OptionList).get_option(action)
        if not option.disabled:
            self.dismiss(action)
