"""Proposed re-matches, reviewed row by row: the bulk Re-match preview and the Suggested view.

Each row is a resource and the record it would be linked to, with the score (100
for a record sharing an identity key, else name similarity) and why it is (or is not) ticked: only the unambiguous proposals are ticked
when the list opens (:mod:`syncview.services.proposals` decides). The operator
ticks or skips rows (space), picks another record for one (m, the Re-match
dialog), accepts one at once (enter, in the Suggested view), and applies all
ticked rows as one bulk re-match (ctrl+s): one transaction, one undo.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.worker import get_current_worker
from textual.widgets import Button, DataTable, Label, Static, Switch

from syncview.errors import SyncviewError
from syncview.services import actions, bulk, queries
from syncview.services.proposals import SUGGEST_THRESHOLD, Proposal, order
from syncview.services.similarity import rank
from syncview.store import Store
from syncview.tui.screens.rematch import RematchDialog
from syncview.tui.widgets.row_table import RowTable
from syncview.tui.widgets.tiles import number
from syncview.tui.text import shown
from syncview.tui.work import WorkFailed, forward_failure

#: Rows a preview holds at most: beyond it, the operator narrows the marks first.
PREVIEW_LIMIT = 20_000


def score_style(score: float) -> str:
    return "green" if score >= 95 else "yellow" if score >= SUGGEST_THRESHOLD else "red"


@dataclass
class ProposalsFound(Message):
    """A chunk of proposals, and how far the ranking is: ``done`` of ``total`` resources."""

    found: list[Proposal]
    done: int
    total: int


@dataclass
class ProposalsComplete(Message):
    """Every chunk is in."""


@dataclass
class Applied(Message):
    """An accept or a bulk re-match is done: ``message`` says what it did."""

    message: str
    accepted: list[str]
    close: bool


class ProposalsScreen(ModalScreen[bool]):
    """Dismisses with True when it changed the store (the overview then reads it again)."""

    CSS_PATH = "dialogs.tcss"
    BINDING_GROUP_TITLE = "Suggested matches and bulk re-match review"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="proposals.close"),
        Binding("space", "skip", "Tick / skip", id="proposals.skip"),
        Binding("enter", "enter", "Accept / choose", id="proposals.accept"),
        Binding("m", "choose", "Other record", id="proposals.choose"),
        Binding("ctrl+s", "apply", "Re-match all", id="proposals.apply"),
    ]

    def __init__(self, store: Store, load: Callable[[], Iterator[tuple[list[Proposal], int, int]]], *,
                 title: str, suggested: bool, operator: str) -> None:
        super().__init__()
        self.store = store
        self.load = load
        self.title_text = title
        #: the Suggested view: enter accepts the row at once; otherwise enter picks another record
        self.suggested = suggested
        self.operator = operator
        self.proposals: dict[str, Proposal] = {}
        self.skipped: set[str] = set()
        self.changed = False
        #: (resources ranked, resources in all) while proposals are still coming
        self.progress: tuple[int, int] | None = (0, 0)

    on_worker_state_changed = forward_failure

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog logs") as box:
            box.border_title = shown(self.title_text, limit=80)
            box.border_subtitle = "computing…"
            hint = ("enter accept · space tick · m other record · ctrl+s accept ticked · esc close"
                    if self.suggested else "space tick · enter/m other record · ctrl+s re-match ticked · esc cancel")
            yield Static(hint, classes="hint")
            yield RowTable(cursor_type="row", zebra_stripes=True, id="proposals")
            # The highlighted row's reason in full (the Why column is cut at 80 columns) and the
            # next candidates, so the operator can judge a row without scrolling sideways.
            yield Static(shown(""), id="why", classes="hint")
            with Horizontal(classes="switch-row"):
                yield Switch(value=False, id="disable-previous")
                yield Label("Disable previous records")
            with Horizontal(classes="buttons"):
                yield Button("Re-match all", variant="primary", compact=True, id="apply")
                yield Button("Close", compact=True, id="close")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("", key="keep", width=1)
        table.add_column("Score", key="score", width=5)
        table.add_column("Resource", key="resource")
        table.add_column("→ Proposed record", key="record")
        table.add_column("Why", key="why")
        table.add_column("Type", key="type", width=7)
        table.add_column("Record's client", key="client")
        # Suggestions are Not Synced resources: there is no previous record to disable.
        self.query_one(".switch-row").display = not self.suggested
        self.set_focus(table)
        self._compute()

    @work(thread=True, exclusive=True, group="proposals", exit_on_error=False,
          description="computing the proposals")
    def _compute(self) -> None:
        """Rank a chunk at a time and show each as it comes: at a million resources the last
        chunks (resources without a client) take a while, the first ones do not."""
        worker = get_current_worker()
        for chunk, done, total in self.load():
            if worker.is_cancelled:
                return
            self.post_message(ProposalsFound(chunk, done, total))
        self.post_message(ProposalsComplete())

    @on(WorkFailed)
    def _failed(self, message: WorkFailed) -> None:
        if message.group == "proposals":  # said in place too; the app shows the error
            self.progress = None
            self.query_one(".dialog").border_subtitle = "could not compute the proposals"

    @on(ProposalsFound)
    def _add(self, message: ProposalsFound) -> None:
        found, done, total = message.found, message.done, message.total
        table = self.query_one(DataTable)
        for proposal in found:
            key = str(proposal.resource_id)
            self.proposals[key] = proposal
            if not proposal.preselected:
                self.skipped.add(key)
            table.add_row(*self._cells(key, proposal), key=key)
        self.progress = (done, total)
        self._count()

    @on(ProposalsComplete)
    def _finished(self) -> None:
        self.progress = None
        # Chunk by chunk they came in the resources' order; now all of them are here: best first.
        table = self.query_one(DataTable)
        cursor = self._key()
        table.clear()
        for key, proposal in sorted(self.proposals.items(), key=lambda item: order(item[1])):
            table.add_row(*self._cells(key, proposal), key=key)
        if cursor is not None:
            table.move_cursor(row=table.get_row_index(cursor), animate=False)
        self._count()

    def _cells(self, key: str, p: Proposal) -> tuple[Text, ...]:
        skipped = key in self.skipped
        record = (Text("no candidate", style="dim") if p.record_id is None
                  else shown(p.record_name or "", limit=60, style="strike dim" if skipped else ""))
        return (
            Text("·" if skipped else "✓", style="dim" if skipped else "green"),
            Text(f"{p.score:.0f}" if p.record_id is not None else "—", style=score_style(p.score)),
            shown(p.resource_name, limit=60),
            record,
            shown(p.reason, limit=80, style="green" if p.preselected else "yellow"),
            shown(p.type.label),
            shown(p.record_client or "—", limit=40, style="dim"),
        )

    def _redraw(self, key: str) -> None:
        table = self.query_one(DataTable)
        for column, value in zip(("keep", "score", "resource", "record", "why", "type", "client"),
                                 self._cells(key, self.proposals[key]), strict=True):
            table.update_cell(key, column, value)
        self._count()

    @on(DataTable.RowHighlighted)
    def _explain(self) -> None:
        """Say under the table why the highlighted row is (not) ticked, and what else it could be."""
        key = self._key()
        proposal = self.proposals.get(key) if key is not None else None
        why = self.query_one("#why", Static)
        if proposal is None:
            why.update(shown(""))
            return
        text = Text("Why: ", style="bold", end="")
        text.append(shown(proposal.reason, limit=120))
        if proposal.others:
            text.append(shown("  · next: " + ", ".join(f"{shown(name, limit=40)} ({score:.0f})"
                                                        for _, name, score in proposal.others[:2]), style="dim"))
        why.update(text)

    def _count(self) -> None:
        kept = len(self.proposals) - len(self.skipped)
        text = f"{number(kept)} to re-match of {number(len(self.proposals))}"
        if self.progress is not None:
            done, total = self.progress
            text += f" · ranking… {number(done)} of {number(total)} resources"
        self.query_one(".dialog").border_subtitle = shown(text)
        button = self.query_one("#apply", Button)
        button.label = shown(f"Re-match {number(kept)}")
        button.refresh(layout=True)  # the label is not a layout reactive: let the button grow with it
        self._explain()

    def _key(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def action_skip(self) -> None:
        key = self._key()
        if key is None:
            return
        if key in self.skipped:
            if self.proposals[key].record_id is None:
                self.notify("No candidate for this one: press m to choose a record", severity="warning", timeout=3)
                return
            self.skipped.discard(key)
        else:
            self.skipped.add(key)
        self._redraw(key)  # the cursor stays: a second space undoes the first

    def action_enter(self) -> None:
        if self.suggested:
            self.action_accept()
        else:
            self.action_choose()

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_enter()

    def action_choose(self) -> None:
        """Pick another record for this row in the Re-match dialog."""
        key = self._key()
        if key is None:
            return
        try:
            row = queries.get_resource(self.store, int(key))
        except SyncviewError as error:
            self.notify(str(error), severity="error")
            return

        def chosen(choice: RematchDialog.Choice | None) -> None:
            if choice is None:
                return
            record = queries.get_record(self.store, choice.record_id)
            score = rank(row.name, {record.id: record.name}, limit=1)[0][1]
            self.proposals[key] = replace(self.proposals[key], record_id=record.id, record_name=record.name,
                                          score=score, record_client=record.client_name, preselected=True,
                                          reason=f"chosen by {self.operator}")
            self.skipped.discard(key)
            self._redraw(key)

        self.app.push_screen(RematchDialog(self.store, row), chosen)

    def action_accept(self) -> None:
        """Suggested view: re-match this one resource now (checked against the version read)."""
        key = self._key()
        if key is None:
            return
        proposal = self.proposals[key]
        record_id = proposal.record_id
        if record_id is None:
            self.notify("No candidate for this one: press m to choose a record", severity="warning", timeout=3)
            return
        disable = self.query_one("#disable-previous", Switch).value
        self._run(lambda: actions.rematch(self.store, proposal.resource_id, record_id,
                                          disable_previous=disable, expected_version=proposal.version,
                                          operator=self.operator).message, accepted=[key])

    @on(Button.Pressed, "#apply")
    def action_apply(self) -> None:
        chosen = [p for key, p in self.proposals.items() if key not in self.skipped]
        if not chosen:
            self.notify("Every row is skipped: nothing to re-match", severity="warning", timeout=3)
            return
        disable = self.query_one("#disable-previous", Switch).value
        self._run(lambda: bulk.rematch(self.store, chosen, disable_previous=disable, operator=self.operator).message,
                  accepted=[str(p.resource_id) for p in chosen], close=True)

    @work(thread=True, group="apply", exit_on_error=False, description="the re-match")
    def _run(self, action: Callable[[], str], *, accepted: list[str], close: bool = False) -> None:
        self.post_message(Applied(action(), accepted, close))

    @on(Applied)
    def _done(self, message: Applied) -> None:
        self.changed = True
        self.app.notify(message.message, title="Done", timeout=5)
        if message.close:
            self.dismiss(True)
            return
        table = self.query_one(DataTable)
        for key in message.accepted:
            self.proposals.pop(key, None)
            self.skipped.discard(key)
            table.remove_row(key)
        self._count()

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        self.dismiss(self.changed)
