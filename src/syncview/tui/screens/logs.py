"""The Sync Logs dialog: one integration's log entries over a date range."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Label, Select

from syncview.services import queries
from syncview.services.queries import IntegrationSummary, LogRow
from syncview.store import Store
from syncview.timeutil import local, local_midnight, parse_when
from syncview.tui.screens.run_diff import RunDiffDialog
from syncview.tui.text import shown
from syncview.tui.work import WorkFailed, forward_failure

#: Entries shown at most; a wider range says how many it left out.
LIMIT = 2000
LEVEL_STYLES = {"info": "", "warning": "yellow", "error": "bold red"}
#: Quick ranges: button id -> (label, days back from today's midnight; 0 is today).
QUICK = {"today": ("Today", 0), "week": ("Last 7 days", 6), "month": ("Last 30 days", 29)}


class SyncLogsDialog(ModalScreen[None]):
    """Log entries from ``From`` up to ``To`` (dates, times, or "7d", "yesterday", "now")."""

    CSS_PATH = "dialogs.tcss"
    BINDING_GROUP_TITLE = "Sync logs"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Close", id="logs.close"),
        Binding("ctrl+t", "range('today')", "Today", id="logs.today"),
        Binding("ctrl+w", "range('week')", "7 days", id="logs.week"),
        Binding("ctrl+o", "range('month')", "30 days", id="logs.month"),
        Binding("ctrl+d", "diff", "What the run changed", id="logs.diff"),
    ]

    @dataclass
    class Loaded(Message):
        #: what the inputs said when the entries were asked for
        key: tuple[str, str, str]
        span: tuple[datetime, datetime]
        rows: list[LogRow]
        #: more entries than LIMIT were there
        more: bool

    def __init__(self, store: Store, integration: IntegrationSummary) -> None:
        super().__init__()
        self.store = store
        self.integration = integration

    on_worker_state_changed = forward_failure

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog logs") as box:
            box.border_title = shown(f"Sync logs — {self.integration.name}", limit=72)
            with Horizontal(classes="range"):
                yield Label("From")
                yield Input("7d", placeholder="2026-11-01, 7d, yesterday", compact=True, id="since")
                yield Label("To")
                yield Input("now", placeholder="now", compact=True, id="until")
                yield Select([("All levels", "info"), ("Warnings and errors", "warning"), ("Errors", "error")],
                             value="info", allow_blank=False, compact=True, id="level")
            with Horizontal(classes="quick"):
                for key, (label, _) in QUICK.items():
                    yield Button(label, id=key, compact=True)
            yield DataTable(cursor_type="row", zebra_stripes=True, id="entries")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        # The run each line belongs to, named on its first (newest) line: the runs read apart,
        # and an operator's action (no run) reads as one.
        table.add_column("Run", width=8)
        table.add_column("Time", width=16)
        table.add_column("Level", width=7)
        table.add_column("Message")
        table.add_column("Resource")
        self.action_range("week")
        self.set_focus(table)

    def _key(self) -> tuple[str, str, str]:
        """What the inputs say now; a loaded page is shown only if they still say it."""
        return (self.query_one("#since", Input).value, self.query_one("#until", Input).value,
                str(self.query_one("#level", Select).value))

    def _reload(self) -> None:
        key = self._key()
        since_text, until_text, level = key
        box = self.query_one(".dialog")
        try:
            since = parse_when(since_text or "30d")
            until = parse_when(until_text or "now")
        except ValueError as error:
            box.border_subtitle = shown(error)
            return
        if until <= since:
            box.border_subtitle = "“To” must be after “From”"
            return
        box.border_subtitle = "loading…"
        self._load(key, since, until, level)

    @work(thread=True, exclusive=True, group="logs", exit_on_error=False, description="reading the log")
    def _load(self, key: tuple[str, str, str], since: datetime, until: datetime, level: str) -> None:
        rows = queries.log_entries(self.store, self.integration.id, since=since, until=until,
                                   level=level, limit=LIMIT + 1)
        self.post_message(self.Loaded(key, (since, until), rows[:LIMIT], len(rows) > LIMIT))

    @on(Loaded)
    def _show(self, message: Loaded) -> None:
        if message.key != self._key():
            return
        table = self.query_one(DataTable)
        table.clear()
        self._rows = message.rows
        previous: object = object()
        for row in message.rows:
            if row.sync_run_id is None:
                run = Text("action", style="dim italic")
            elif row.sync_run_id != previous:
                run = Text(f"run {row.sync_run_id}", style="bold")
            else:
                run = Text("│", style="dim")
            previous = row.sync_run_id
            table.add_row(
                run,
                local(row.time),
                Text(row.level, style=LEVEL_STYLES.get(row.level, "")),
                shown(row.message, limit=300),
                shown(row.resource_name or "", limit=60),
            )
        since, until = message.span
        count = f"{len(message.rows)} entries" + (f" (the newest {LIMIT}; narrow the range)" if message.more else "")
        self.query_one(".dialog").border_subtitle = shown(f"{count} · {local(since)} → {local(until)}"
                                                          " · enter on a sync's line: what it changed")

    @on(DataTable.RowSelected, "#entries")
    def _entry_chosen(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_diff()

    def action_diff(self) -> None:
        """Open what the sync run of the line under the cursor created, matched, left and removed."""
        rows = getattr(self, "_rows", [])
        table = self.query_one(DataTable)
        if not rows or table.cursor_row >= len(rows):
            return
        run_id = rows[table.cursor_row].sync_run_id
        if run_id is None:
            self.notify("This line is an operator's action, not a sync run's", severity="warning", timeout=3)
            return
        self.app.push_screen(RunDiffDialog(self.store, run_id))

    @on(WorkFailed)
    def _failed(self) -> None:
        """Said in place too (the app shows the error)."""
        self.query_one(".dialog").border_subtitle = "could not read the log"

    @on(Input.Changed)
    @on(Select.Changed)
    def _changed(self) -> None:
        self._reload()

    @on(Button.Pressed)
    def _quick(self, event: Button.Pressed) -> None:
        if event.button.id in QUICK:
            self.action_range(event.button.id)

    def action_range(self, key: str) -> None:
        """Set From to the start of a quick range and To to now."""
        days = QUICK[key][1]
        start = local_midnight(parse_when("now").astimezone().date() - timedelta(days=days))
        with self.prevent(Input.Changed):
            self.query_one("#since", Input).value = start.strftime("%Y-%m-%d")
            self.query_one("#until", Input).value = "now"
        self._reload()
