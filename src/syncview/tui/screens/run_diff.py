"""What one sync run changed, opened from the Sync Logs dialog (enter on one of the run's lines)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Static

from syncview.services.run_diff import SECTIONS, RunDiff, run_diff
from syncview.store import Store
from syncview.timeutil import local
from syncview.tui.widgets.tiles import number
from syncview.tui.text import shown
from syncview.tui.work import WorkFailed, forward_failure


def render_diff(diff: RunDiff) -> Group:
    """Counts first, then each section's resources as the run's log names them."""
    took = f" → {local(diff.ended_at)}" if diff.ended_at else " (still running or interrupted)"
    head = Text.assemble((f"Run {diff.id}", "bold"), f"  {local(diff.started_at)}{took}  ",
                         shown(diff.outcome, style="green" if diff.outcome == "success" else "bold red"))
    # What the run did (the lists below name these resources), then how the integration stood
    # after it (the counts the tiles showed then), apart so neither reads as the other.
    counts = Table.grid(padding=(0, 2))
    counts.add_column(style="dim")
    counts.add_column(justify="right")
    counts.add_column(style="dim")
    counts.add_column(justify="right")
    did = (("Fetched", diff.fetched), ("New resources (first seen)", diff.new_resources),
           ("Records created", diff.created), ("Removed remotely", diff.removed))
    after = (("Matched", diff.matched), ("Not Synced", diff.not_synced))
    counts.add_row(Text("This run", style="bold"), "", Text("After it", style="bold"), "")
    for number_, (label, value) in enumerate(did):
        right_label, right_value = after[number_] if number_ < len(after) else ("", None)
        counts.add_row(label, number(value), right_label, number(right_value) if right_value is not None else "")
    parts: list[RenderableType] = [head, shown(diff.message or "", limit=300, style="yellow"), counts]
    for key, title, _marker in SECTIONS:
        items = diff.section(key)
        if not items:
            continue
        table = Table(title=f"{title} ({len(items)})", title_justify="left", expand=True, show_edge=False)
        table.add_column("Type", width=8)
        table.add_column("Resource")
        table.add_column("Now", width=11)
        for item in items:
            table.add_row(shown(item.type or "—"), shown(item.name or f"resource {item.resource_id}", limit=80),
                          shown(item.status_now.label if item.status_now else "gone"))
        parts += [Text(""), table]
    if not any(diff.section(key) for key, _, _ in SECTIONS):
        parts += [Text(""), Text("The run logged no item changes.", style="dim")]
    if not diff.complete:
        parts += [Text(""), Text("The log keeps a run's first item events only: the counts above are exact, "
                                 "the lists are the start.", style="dim")]
    return Group(*parts)


@dataclass
class DiffLoaded(Message):
    diff: RunDiff


class RunDiffDialog(ModalScreen[None]):
    CSS_PATH = "dialogs.tcss"
    BINDING_GROUP_TITLE = "What a sync run changed"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "dismiss(None)", "Close", id="run_diff.close")]

    def __init__(self, store: Store, run_id: int) -> None:
        super().__init__()
        self.store = store
        self.run_id = run_id

    on_worker_state_changed = forward_failure

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog wide tall") as box:
            box.border_title = "What this sync changed"
            yield Static("Loading…", id="diff")

    def on_mount(self) -> None:
        self.set_focus(self.query_one(VerticalScroll))
        self._load()

    @work(thread=True, exit_on_error=False, description="reading the run")
    def _load(self) -> None:
        self.post_message(DiffLoaded(run_diff(self.store, self.run_id)))

    @on(DiffLoaded)
    def _show(self, message: DiffLoaded) -> None:
        self.query_one("#diff", Static).update(render_diff(message.diff))

    @on(WorkFailed)
    def _failed(self, message: WorkFailed) -> None:
        """Said in place too, so "Loading…" does not stay (the app shows the error)."""
        self.query_one("#diff", Static).update(
            shown(f"Could not read run {self.run_id}: {message.error}", limit=500))
