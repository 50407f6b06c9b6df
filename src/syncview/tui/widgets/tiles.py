"""The global tiles: Total Synced Resources and Resources Status, for a whole integration."""

from __future__ import annotations

from rich.bar import Bar
from rich.console import Group, RenderableType
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
    """A count as the screen shows it: ``12,408``, the form the services' messages, the CLI
    and the exports use too, so a dialog never shows "15,266" beside "15 266"."""
    return f"{value:,}"


class TotalsTile(Widget):
    """How many live resources the integration synced, in bold, and how many of each type.

    The types go two a line below the total where the width allows, else one a line.
    """

    totals: reactive[Totals | None] = reactive(None)

    def show(self, totals: Totals | None) -> None:
        self.totals = totals

    def render(self) -> RenderableType:
        width = max(self.content_size.width, 1)
        # The title in full where the border has room for it (not cut to "Total synced resourc…").
        self.border_title = "Total synced resources" if width >= 24 else "Total synced"
        totals = self.totals
        if totals is None:
            return Text("…", justify="center")
        parts = [f"{t.label.lower()}s {number(totals.by_type[t])}" for t in ResourceType if totals.by_type[t]]
        lines: list[str] = []
        for part in parts:
            if lines and lines[-1].count(" · ") < 1 and len(lines[-1]) + 3 + len(part) <= width:
                lines[-1] += " · " + part
            else:
                lines.append(part)
        total = Text(number(totals.total), style="bold", justify="center", no_wrap=True, overflow="ellipsis")
        for line in lines:
            total.append("\n" + line, style="dim")
        return total


class StatusTile(Static):
    """Matched, Not Synced and Excluded counts of the live resources, each with a bar of its
    share, and the removed-remotely ones apart below them."""

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
                        color=STATUS_COLOURS[status], bgcolor="default")
            grid.add_row(Text(status.label, style=STATUS_COLOURS[status]), share,
                         number(count) if totals else "…")
        # Apart from the live ones (their own grid: the long label must not narrow the bars).
        removed = Table.grid(expand=True, padding=(0, 1))
        removed.add_column(no_wrap=True, ratio=1)
        removed.add_column(justify="right", no_wrap=True)
        removed.add_row(Text("Removed remotely", style="italic", overflow="ellipsis"),
                        number(totals.removed) if totals else "…")
        return Group(grid, removed)


#: The colour of each status, wherever the screen names one: readable on a dark and a light theme.
STATUS_COLOURS = {
    SyncStatus.MATCHED: "green",
    SyncStatus.NOT_SYNCED: "yellow",
    SyncStatus.EXCLUDED: "magenta",
}
