"""The overview's pickers (integration, client, type, status): a Select fast to drive from the keys."""

from __future__ import annotations

from typing import Generic

from textual.app import ComposeResult
from textual.widgets import Select
from textual.widgets._select import SelectCurrent, SelectOverlay, SelectType


class PickerList(SelectOverlay):
    """A picker's open list: the arrows stop at its first and last entries.

    Textual's list wraps from the first entry to the last, so "up" at the top of a picker
    quietly chose the bottom entry; an operator pressing up to be sure to be at the top must
    stay there.
    """

    def action_cursor_up(self) -> None:
        if self.highlighted is None or self.highlighted > 0:
            super().action_cursor_up()

    def action_cursor_down(self) -> None:
        if self.highlighted is None or self.highlighted < self.option_count - 1:
            super().action_cursor_down()


class Picker(Select[SelectType], Generic[SelectType]):
    """A Select whose list does not wrap, and that a key can open at once (:meth:`open`)."""

    def compose(self) -> ComposeResult:
        yield SelectCurrent(self.prompt)
        yield PickerList(type_to_search=self._type_to_search).data_bind(compact=Select.compact)

    def open(self) -> None:
        """Open the picker's list on the chosen entry, focused (what I, c, t and S do).

        The focus moves at once (``Screen.set_focus``), not after the key's handling as
        ``focus()`` does: keys typed in one burst ("t↓↓⏎") reach the list, not the table.
        """
        self.screen.set_focus(self)
        self.action_show_overlay()
        self.screen.set_focus(self.query_one(PickerList), scroll_visible=False)
