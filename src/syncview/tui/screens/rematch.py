"""The Re-match dialog: pick the local record a resource should be linked to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Static, Switch
from textual.widgets.option_list import Option

from syncview.safe_text import printable
from syncview.services.matching import Candidate, rematch_candidates
from syncview.services.queries import ResourceRow
from syncview.store import Store
from syncview.tui.text import shown
from syncview.tui.work import forward_failure


def describe(candidate: Candidate) -> Text:
    """One candidate as the list shows it: name, client, score, and beside them why it cannot be
    picked (matched to another resource, another type) or why to look twice (disabled, a number
    that differs from the resource's name)."""
    record = candidate.record
    text = shown(record.name, limit=80, style="bold")
    text.append(shown(f"  {record.client_name or 'no client'}", limit=42, style="dim"))
    text.append(f"  {candidate.score:.0f}%")
    if candidate.refusal is not None:
        text.append(shown(f"  ✗ {candidate.refusal}", limit=64, style="red"))
    if record.disabled:
        text.append("  disabled: Match enables it", style="yellow")
    if candidate.number_difference:
        text.append(f"  differs in a number: {candidate.number_difference}", style="yellow")
    return text


class RematchDialog(ModalScreen["RematchDialog.Choice | None"]):
    """Candidates of the resource's type, ranked by similarity; type to narrow them."""

    CSS_PATH = "dialogs.tcss"
    BINDING_GROUP_TITLE = "Re-match"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Cancel", id="rematch.cancel"),
        Binding("ctrl+s", "match", "Match", id="rematch.match"),
        Binding("down", "to_list", "Candidates", show=False, id="rematch.to_list"),
    ]

    @dataclass(frozen=True, slots=True)
    class Choice:
        record_id: int
        disable_previous: bool

    @dataclass
    class CandidatesLoaded(Message):
        #: the search they answer (shown only while the box still says it)
        search: str
        candidates: list[Candidate]

    def __init__(self, store: Store, row: ResourceRow) -> None:
        super().__init__()
        self.store = store
        self.row = row
        self._candidates: dict[str, Candidate] = {}

    on_worker_state_changed = forward_failure

    def compose(self) -> ComposeResult:
        row = self.row
        with Vertical(classes="dialog wide") as box:
            box.border_title = "Re-match record"
            current = (f"now matched to “{printable(row.record_name, limit=60)}”" if row.record_name
                       else f"now {row.status.label}")
            yield Static(Text.assemble(f"{row.type.label} ", shown(row.name, limit=80, style="bold"),
                                       f" — {current}"), classes="question")
            yield Input(placeholder="Type to search records", compact=True, id="search")
            yield OptionList(compact=True, id="candidates")
            with Horizontal(classes="switch-row"):
                yield Switch(value=False, id="disable-previous", disabled=row.record_id is None)
                yield Label("Disable previous record")
                yield Switch(value=False, id="all-clients")
                yield Label("All clients")
            with Horizontal(classes="buttons"):
                yield Button("Match", variant="primary", compact=True, id="match")
                yield Button("Cancel", compact=True, id="cancel")

    def on_mount(self) -> None:
        self.set_focus(self.query_one("#search", Input))
        self._load("")

    def _load(self, search: str) -> None:
        self._find(search, self.query_one("#all-clients", Switch).value)

    @work(thread=True, exclusive=True, group="candidates", exit_on_error=False, description="finding candidates")
    def _find(self, search: str, all_clients: bool) -> None:
        # The switch is read on the screen's thread (above): a worker touches no widget.
        found = rematch_candidates(self.store, self.row.id, search=search, all_clients=all_clients)
        self.post_message(self.CandidatesLoaded(search, found))

    @on(CandidatesLoaded)
    def _show(self, message: CandidatesLoaded) -> None:
        if message.search != self.query_one("#search", Input).value:
            return
        options = self.query_one("#candidates", OptionList)
        self._candidates = {str(c.record.id): c for c in message.candidates}
        options.set_options(Option(describe(c), id=key) for key, c in self._candidates.items())
        if self._candidates:
            # Open on the first record that can be picked, so enter never starts with a refusal.
            pickable = [i for i, c in enumerate(self._candidates.values()) if c.refusal is None]
            options.highlighted = pickable[0] if pickable else 0
        box = self.query_one(".dialog")
        count = len(self._candidates)
        box.border_subtitle = shown(f"{count} candidate{'' if count == 1 else 's'}")

    @on(Input.Changed, "#search")
    def _search(self, event: Input.Changed) -> None:
        self._load(event.value)

    @on(Switch.Changed, "#all-clients")
    def _scope(self) -> None:
        self._load(self.query_one("#search", Input).value)

    @on(Input.Submitted, "#search")
    def _submitted(self) -> None:
        self.action_match()

    @on(OptionList.OptionSelected, "#candidates")
    def _picked(self) -> None:
        self.action_match()

    def action_to_list(self) -> None:
        if self.focused is self.query_one("#search"):
            self.set_focus(self.query_one("#candidates"))

    @on(Button.Pressed, "#match")
    def action_match(self) -> None:
        options = self.query_one("#candidates", OptionList)
        if options.highlighted is None:
            self.notify("Choose a record to match to", severity="warning", timeout=3)
            return
        option = options.get_option_at_index(options.highlighted)
        candidate = self._candidates[option.id or ""]
        if candidate.refusal is not None:
            # Refused here, not by the store after the dialog closed: the search and switches stay.
            self.notify(f"{candidate.record.name} is {candidate.refusal}: choose another record",
                        severity="warning", timeout=5)
            return
        self.dismiss(self.Choice(candidate.record.id, self.query_one("#disable-previous", Switch).value))

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)
