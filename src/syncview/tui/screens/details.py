"""A resource's details: what the product sent (payload) and every operator action on it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Static

from syncview.identity import KeyKind
from syncview.render import dumps
from syncview.services import queries
from syncview.services.columns import standing
from syncview.services.history import describe_state, record_names
from syncview.services.queries import ResourceDetail
from syncview.store import Store
from syncview.timeutil import ago, local
from syncview.tui.text import shown
from syncview.tui.work import WorkFailed, forward_failure


def render_detail(detail: ResourceDetail, names: dict[int, str] | None = None) -> Group:
    """Fields, payload and audit history as one scrollable block; ``names`` are the names of
    the records the history mentions (history.record_names)."""
    resource = detail.resource
    fields = Table.grid(padding=(0, 2))
    fields.add_column(style="dim", no_wrap=True)
    fields.add_column()
    for label, value in (
        ("Name", resource.name), ("Type", resource.type.label), ("Status", resource.status.label),
        ("Why", standing(resource)),
        ("External id", resource.external_id), ("Remote company", resource.remote_company or "—"),
        ("Local client", resource.client_name or "—"),
        ("Local record", (resource.record_name or "—") + (" (disabled)" if resource.record_disabled else "")),
        ("First seen", local(detail.first_seen)), ("Last seen", f"{local(resource.last_seen)} ({ago(resource.last_seen)})"),
        ("Removed remotely", "yes" if resource.deleted_remotely else "no"),
        ("Changed by", f"{resource.updated_by} at {local(resource.updated_at)}" if resource.updated_by else "—"),
    ):
        fields.add_row(label, shown(value, limit=300))
    keys = Table(title="Identity keys", title_justify="left", expand=True, show_edge=False)
    for column in ("Key", "This item", "Its record"):
        keys.add_column(column)
    for kind in KeyKind:
        mine, theirs = detail.keys.get(kind), detail.record_keys.get(kind)
        if mine or theirs:
            keys.add_row(shown(kind.label), shown(", ".join(sorted(mine)) or "—", limit=300),
                         shown(", ".join(sorted(theirs)) or "—", limit=300))
    if not detail.keys and not detail.record_keys:
        keys.add_row("—", "none", "")
    history = Table(title="Audit history", title_justify="left", expand=True, show_edge=False)
    for column in ("When", "Who", "Action", "Before → after"):
        history.add_column(column)
    for event in detail.history:
        change = f"{describe_state(event.before, names)} → {describe_state(event.after, names)}"
        action = event.action + (" (undone)" if event.undone_by else "")
        history.add_row(local(event.time), shown(event.operator, limit=60), shown(action), shown(change, limit=300))
    if not detail.history:
        history.add_row("—", "", "no operator action yet", "")
    # dumps escapes control, bidi and format characters, so the payload cannot reach the terminal raw;
    # a Text, so its brackets are not markup.
    payload = Text(dumps(detail.payload)[:20_000])
    return Group(fields, Text(""), keys, Text(""), history, Text(""), Text("Payload", style="bold"), payload)


@dataclass
class DetailLoaded(Message):
    detail: ResourceDetail
    names: dict[int, str]


class DetailsScreen(ModalScreen[None]):
    """Read-only; esc closes it."""

    CSS_PATH = "dialogs.tcss"
    BINDING_GROUP_TITLE = "Details"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "dismiss(None)", "Close", id="details.close")]

    def __init__(self, store: Store, resource_id: int) -> None:
        super().__init__()
        self.store = store
        self.resource_id = resource_id

    on_worker_state_changed = forward_failure

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog wide tall") as box:
            box.border_title = "Resource details"
            yield Static("Loading…", id="detail")

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()
        self._load()

    @work(thread=True, exit_on_error=False, description="reading the resource")
    def _load(self) -> None:
        detail = queries.resource_detail(self.store, self.resource_id)
        names = record_names(self.store, [s for e in detail.history for s in (e.before, e.after)])
        self.post_message(DetailLoaded(detail, names))

    @on(DetailLoaded)
    def _show(self, message: DetailLoaded) -> None:
        self.query_one("#detail", Static).update(render_detail(message.detail, message.names))

    @on(WorkFailed)
    def _failed(self, message: WorkFailed) -> None:
        """Said in place too, so "Loading…" does not stay (the app shows the error)."""
        self.query_one("#detail", Static).update(shown(f"Could not read it: {message.error}", limit=500))
