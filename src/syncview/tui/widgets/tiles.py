"""The global tiles: Total Synced Resources and Resources Status, for a whole integration."""

from __future__ import annotations

from rich.bar import Bar
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Static

from syncview.domain import ResourceType, SyncStatus
from syncview.services.queries import Totals
from syncview.tui.text import shown

#: Status rows of the status tile, in the order the operator reads them.
STATUS_ORDER = (SyncStatus.MATCHED, SyncStatus.NOT_SYNCED, SyncStatus.EXCLUDED)


def number(value: int) -> str:
    """Thousands separated by thin spaces, as the screen shows counts: ``12 408``."""
    return f"{value:,}".replace(",", "\u2009")


class TotalsTile(Widget):
    """How many resources the integration synced, and how many of each type.

    Laid out for its width: the total and two types a line when there is room;
    in a narrow tile the total moves into the title and the types stack.
    """

    totals: reactive[Totals | None] = reactive(None)

    def show(self, totals: Totals | None) -> None:
        self.totals = totals

    def render(self) -> RenderableType:
        totals = self.totals
        wide = self.content_size.width >= 30
        title = "Total synced resources"
        if totals is None:
            self.border_title = title
            return Text("…", justify="center")
        parts = [f"{t.label.lower()}s {number(totals.by_type[t])}" for t in ResourceType if totals.by_type[t]]
        if not wide:
            self.border_title = shown(f"Total synced {number(totals.total)}")
            return Text("\n".join(parts), style="dim", justify="center")
        self.border_title = title
        lines = Text(number(totals.total), style="bold", justify="center")
        for start in range(0, len(parts), 2):
            lines.append("\n" + " · ".join(parts[start:start + 2]), style="dim")
        return lines


class StatusTile(Static):
    """Matched, Not Synced and Excluded counts, each with a bar of its share."""

    def on_mount(self) -> None:
        self.border_title = "Resources status"

    def show(self, totals: Totals | None) -> None:
        self.update(self.render_status(totals))

    @staticmethod
    def render_status(totals: Totals | None) -> RenderableType:
        grid = Table.grid(expand=True, padding=(0, 1))
        grid.add_column(no_wrap=True)
        grid.add_column(ratio=1)
        grid.add_column(justify="right", no_wrap=True)
        for status in STATUS_ORDER:
            count = totals.by_status[status] if totals else 0
            share = Bar(size=max(totals.total if totals else 1, 1), begin=0, end=count,
                        color=_BAR_COLOURS[status], bgcolor="default")
            grid.add_row(Text(status.label, style=_BAR_COLOURS[status]), share,
                         number(count) if totals else "…")
        return grid


_BAR_COLOURS = {
    SyncStatus.MATCHED: "green",
    SyncStatus.NOT_SYNCED: "yellow",
    SyncStatus.EXCLUDED: "bright_black",
}
