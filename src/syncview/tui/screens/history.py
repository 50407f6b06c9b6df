"""The History screen: every operator action (who, when, what, before → after), filterable by
operator, action and date, with undo (u) and redo (ctrl+r) of the operator's own last actions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Input, Label, Select

from syncview.errors import SyncviewError
from syncview.services import actions, history, queries
from syncview.services.history import BatchRow
from syncview.store import Store
from syncview.timeutil import local, parse_when
from syncview.tui.screens.confirm import ConfirmDialog
from syncview.tui.text import shown
from syncview.tui.work import forward_failure

ANY = "any"
#: Actions shown at most; a narrower filter shows older ones.
LIMIT = 500


def confirm_pending(screen: Screen[Any], store: Store, kind: str, operator: str, then: Callable[[], object]) -> None:
    """Ask before an undo or redo, naming what it will change; run ``then`` once confirmed.
    Shared by the overview and this screen, so both ask the same question."""
    try:
        pending = actions.pending(store, kind, operator=operator)
    except SyncviewError as error:
        screen.notify(str(error), title="Not done", severity="error", timeout=8)
        return
    if pending is None:
        screen.notify(f"Nothing to {kind} for {operator}", severity="warning", timeout=4)
        return
    when = f"done {local(pending.time)}" if kind == "undo" else f"undone {local(pending.time)}"
    where = ", ".join(pending.integrations)
    lines = [f"{when} in {where}" if where else when, *pending.lines]
    on_screen = getattr(screen, "integration", None)
    if pending.integrations and on_screen is not None and on_screen.name not in pending.integrations:
        # Undo is the operator's last action, whichever integration it was in: say so first.
        lines.insert(0, f"This changes {where}, not {on_screen.name} on screen.")

    def answered(yes: bool | None) -> None:
        if yes:
            then()

    screen.app.push_screen(ConfirmDialog(pending.title, lines, confirm=kind.capitalize(),
                                         more=pending.resources - len(pending.lines)), answered)


@dataclass
class OperatorsLoaded(Message):
    names: list[str]


@dataclass
class BatchesLoaded(Message):
    #: what the filters said when the list was asked for
    key: tuple[object, ...]
    rows: list[BatchRow]


@dataclass
class ActionDone(Message):
    message: str


@dataclass
class EventsLoaded(Message):
    events: list[history.EventRow]
    names: dict[int, str]


class HistoryScreen(ModalScreen[bool]):
    """Dismisses with True if an undo or redo here changed the store."""

    CSS_PATH = "dialogs.tcss"
    BINDING_GROUP_TITLE = "History"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="history.close"),
        Binding("u", "undo", "Undo mine", id="history.undo"),
        Binding("ctrl+r", "redo", "Redo mine", id="history.redo"),
        Binding("enter", "events", "Resources", id="history.events"),
    ]

    def __init__(self, store: Store, operator: str, *, integration_id: int | None = None) -> None:
        super().__init__()
        self.store = store
        self.operator = operator
        self.integration_id = integration_id
        self.rows: list[BatchRow] = []
        self.changed = False

    on_worker_state_changed = forward_failure

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog logs history") as box:
            box.border_title = "History"
            with Horizontal(classes="range"):
                yield Select([("Anyone", ANY)], value=ANY, allow_blank=False, compact=True, id="operator")
                yield Select([("Any action", ANY)] + [(a, a) for a in history.ACTIONS], value=ANY,
                             allow_blank=False, compact=True, id="action")
                yield Label("From")
                yield Input("30d", placeholder="30d, 2026-11-01", compact=True, id="since")
                yield Label("To")
                yield Input("now", compact=True, id="until")
            yield DataTable(cursor_type="row", zebra_stripes=True, id="batches")

    def on_mount(self) -> None:
        self._integration_names = {i.id: i.name for i in queries.list_integrations(self.store)}
        self.set_focus(self.query_one(DataTable))
        self._load_operators()
        self._reload()

    def on_resize(self) -> None:
        if self.rows:
            self._fill(self.rows)

    def _columns(self) -> list[tuple[str, int]]:
        """The columns for the table's width, "What" taking what is left: the list fits the
        screen with no sideways scrolling (below 100 columns "Before → after" gives way; the
        action says most of it)."""
        width = self.query_one(DataTable).scrollable_content_region.width or self.size.width
        fixed = [("When", 11), ("Who", 8), ("Action", 9), ("Integration", 12 if width < 100 else 18)]
        if width >= 100:
            fixed.append(("Before → after", 22))
        rest = width - sum(size for _, size in fixed) - 2 * (len(fixed) + 1) - 3  # and the scrollbar
        return [*fixed, ("What", max(rest, 8))]

    @work(thread=True, group="operators", exit_on_error=False, description="reading the operators")
    def _load_operators(self) -> None:
        self.post_message(OperatorsLoaded(history.operators(self.store)))

    @on(OperatorsLoaded)
    def _show_operators(self, message: OperatorsLoaded) -> None:
        select = self.query_one("#operator", Select)
        with self.prevent(Select.Changed):
            select.set_options([("Anyone", ANY)] + [(shown(n, limit=30), n) for n in message.names])
            select.value = ANY

    def _key(self) -> tuple[object, ...]:
        """What the filters say now; a loaded list is shown only if they still say it."""
        return (self.query_one("#operator", Select).value, self.query_one("#action", Select).value,
                self.query_one("#since", Input).value, self.query_one("#until", Input).value)

    def _filters(self) -> dict[str, Any] | None:
        box = self.query_one(".dialog")
        try:
            since = parse_when(self.query_one("#since", Input).value or "30d")
            until = parse_when(self.query_one("#until", Input).value or "now")
        except ValueError as error:
            box.border_subtitle = shown(error)
            return None
        operator = self.query_one("#operator", Select).value
        action = self.query_one("#action", Select).value
        return {"operator": None if operator in (ANY, Select.BLANK) else operator,
                "action": None if action in (ANY, Select.BLANK) else action,
                "since": since, "until": until, "integration_id": self.integration_id}

    def _reload(self) -> None:
        filters = self._filters()
        if filters is not None:
            self._load(self._key(), filters)

    @work(thread=True, exclusive=True, group="history", exit_on_error=False, description="reading the history")
    def _load(self, key: tuple[object, ...], filters: dict[str, Any]) -> None:
        self.post_message(BatchesLoaded(key, history.batches(self.store, **filters, limit=LIMIT + 1)))

    @on(BatchesLoaded)
    def _show(self, message: BatchesLoaded) -> None:
        if message.key != self._key():
            return
        rows = message.rows
        self._fill(rows[:LIMIT])
        more = f" (the newest {LIMIT}; narrow the filters)" if len(rows) > LIMIT else ""
        self.query_one(".dialog").border_subtitle = shown(
            f"{len(self.rows)} actions{more} · u undo / ctrl+r redo your own · enter its resources")

    def _fill(self, rows: list[BatchRow]) -> None:
        """(Re)build the table for its width, keeping the cursor's row."""
        self.rows = rows
        table = self.query_one(DataTable)
        cursor = table.cursor_row
        table.clear(columns=True)
        columns = self._columns()
        for label, width in columns:
            table.add_column(label, width=width)
        labels = [label for label, _ in columns]
        for row in self.rows:
            action = Text(row.action)
            if row.undone_by:
                action.append(" ↶", style="dim")
            integration = self._integration_names.get(row.integration_id, "—") if row.integration_id else "—"
            # The year is dropped to leave the width to what was done (the list covers days, not years).
            cells = {"When": shown(local(row.time)[5:]), "Who": shown(row.operator, limit=20), "Action": action,
                     "Integration": shown(integration, limit=40), "Before → after": shown(row.change),
                     "What": shown(row.what, limit=120)}
            in_order = [cells.get(label) for label in labels]  # each made by shown() above
            table.add_row(*in_order)
        if self.rows:
            table.move_cursor(row=min(cursor, len(self.rows) - 1))

    @on(Input.Changed)
    @on(Select.Changed)
    def _changed(self) -> None:
        self._reload()

    def action_undo(self) -> None:
        confirm_pending(self, self.store, "undo", self.operator,
                        lambda: self._act(lambda: actions.undo(self.store, operator=self.operator)))

    def action_redo(self) -> None:
        confirm_pending(self, self.store, "redo", self.operator,
                        lambda: self._act(lambda: actions.redo(self.store, operator=self.operator)))

    @work(thread=True, group="act", exit_on_error=False, description="the action")
    def _act(self, action: Callable[[], actions.ActionResult]) -> None:
        self.post_message(ActionDone(action().message))

    @on(ActionDone)
    def _done(self, message: ActionDone) -> None:
        self.changed = True
        self.notify(message.message, title="Done", timeout=5)
        self._reload()

    def action_events(self) -> None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return
        self.app.push_screen(BatchEventsDialog(self.store, self.rows[table.cursor_row]))

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_events()

    def action_close(self) -> None:
        self.dismiss(self.changed)


class BatchEventsDialog(ModalScreen[None]):
    """The resources of one action, each with its state before and after."""

    CSS_PATH = "dialogs.tcss"
    BINDING_GROUP_TITLE = "An action's resources (History, enter)"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Close", id="history_events.close")]

    def __init__(self, store: Store, batch: BatchRow) -> None:
        super().__init__()
        self.store = store
        #: not "batch": that would hide Textual's Widget.batch()
        self.action_row = batch

    on_worker_state_changed = forward_failure

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide tall") as box:
            box.border_title = shown(f"{self.action_row.action} by {self.action_row.operator}, {local(self.action_row.time)}",
                                     limit=80)
            yield DataTable(cursor_type="row", zebra_stripes=True, id="events")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label in ("Type", "Resource", "Before", "After"):
            table.add_column(label)
        self.set_focus(table)
        self._load()

    @work(thread=True, exit_on_error=False, description="reading the action's resources")
    def _load(self) -> None:
        events = history.batch_events(self.store, self.action_row.batch)
        names = history.record_names(self.store, [e.before for e in events] + [e.after for e in events])
        self.post_message(EventsLoaded(events, names))

    @on(EventsLoaded)
    def _show(self, message: EventsLoaded) -> None:
        events, names = message.events, message.names
        table = self.query_one(DataTable)
        for event in events:
            table.add_row(shown(event.type or "—"), shown(event.name or f"resource {event.resource_id}", limit=60),
                          shown(history.describe_state(event.before, names), limit=80),
                          shown(history.describe_state(event.after, names), limit=80))
        count = len(events)
        self.query_one(".dialog").border_subtitle = shown(
            f"{count:,} of {self.action_row.resources:,} resources" if count < self.action_row.resources
            else f"{count:,} resources")
