"""A DataTable of rows, as the review dialogs use it: home/end (g/G) go to the first and last
row, as in the Sync Status table (DataTable's own home/end scroll sideways)."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.widgets import DataTable


class RowTable(DataTable[Any]):
    """A row-cursor table whose home/end move to the first/last row."""

    BINDING_GROUP_TITLE = "Review lists (suggested matches, bulk re-match)"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("home,g", "scroll_top", "First row", show=False, id="review.first"),
        Binding("end,G", "scroll_bottom", "Last row", show=False, id="review.last"),
    ]
