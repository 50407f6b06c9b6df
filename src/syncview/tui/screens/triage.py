"""Triage at keyboard speed on the Sync Overview: marks, bulk actions, suggestions, history,
export, and undo/redo that say what they will change before they do it.

:class:`Triage` is the Sync Status box: it holds the table, writes the box's subtitle (the
counts and what is marked) and does what marked rows can do. The overview screen composes
it and is its :class:`TriageHost`: the one contract between them, so neither reads the
other's private members. The keys stay the screen's (``OverviewScreen.BINDINGS`` says
everything the screen offers); its actions call the methods here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from textual import on, work
from textual.containers import Vertical
from textual.message import Message

from syncview import render
from syncview.services import actions, bulk, proposals, queries
from syncview.services.actions import ActionResult
from syncview.services.bulk import Marks
from syncview.services.queries import IntegrationSummary, ResourceFilter
from syncview.store import Store
from syncview.tui.screens.confirm import BulkExcludeDialog, ConfirmDialog
from syncview.tui.screens.export import ExportChoice, ExportDialog
from syncview.tui.screens.history import HistoryScreen, confirm_pending
from syncview.tui.screens.proposals import PREVIEW_LIMIT, ProposalsScreen
from syncview.tui.text import shown
from syncview.tui.widgets.resource_table import ResourceTable
from syncview.tui.widgets.tiles import number
from syncview.tui.work import forward_failure


def count_line(shown: int, total: int, removed_shown: int, removed_total: int) -> str:
    """The table's count line in the tiles' terms: "resources" are the live ones (the total
    tile's number, with no client chosen) and the removed-remotely rows the table also lists
    are said apart: "1,510 resources · 18 removed remotely", "290 of 1,510 · 3 removed remotely"."""
    live, live_total = shown - removed_shown, total - removed_total
    text = f"{number(live)} of {number(live_total)}" if shown != total else f"{number(live_total)} resources"
    return text + (f" · {number(removed_shown)} removed remotely" if removed_shown else "")


class TriageHost(Protocol):
    """What triage needs from the screen that owns it."""

    @property
    def integration(self) -> IntegrationSummary | None:
        """The integration on screen (None until one is read)."""

    def current_filter(self) -> ResourceFilter | None:
        """The filter the pickers and the text box describe (None before an integration)."""

    def client_names(self) -> dict[int, str]:
        """The names of the current integration's clients, by id."""

    def refresh_data(self) -> None:
        """Read the tiles, the clients and the table again, keeping the operator's place."""

    def act(self, action: Callable[[], ActionResult]) -> None:
        """Run one store action off the screen's thread; its result is shown, then everything re-read."""



@dataclass
class MarksCounted(Message):
    """The marks ``marks`` select ``found`` resources now; ``then`` (if any) goes on with the count."""

    marks: Marks
    found: int
    then: Callable[[int], None] | None

    def can_replace(self, message: Message) -> bool:
        # A newer count of the same marks says the same, later; one with a follow-up is never dropped.
        return (isinstance(message, MarksCounted) and self.then is None and message.marks == self.marks)


@dataclass
class BulkDone(Message):
    result: bulk.BulkResult


@dataclass
class Exported(Message):
    written: int
    path: Path


class Triage(Vertical):
    """The Sync Status box: the table, its counts and marks, and what marked rows can do."""

    def __init__(self, store: Store, operator: str, host: TriageHost, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.store = store
        self.operator = operator
        self.host = host
        #: rows shown, rows before text/type/status, and how many of each are removed remotely
        #: (the table's current result, once counted)
        self.counts: tuple[int, int, int, int] | None = None
        #: the marked resources counted now (None while a count is on its way)
        self.marked_count: int | None = None

    on_worker_state_changed = forward_failure

    @property
    def table(self) -> ResourceTable:
        return self.query_one(ResourceTable)

    # -- marks ---------------------------------------------------------------------------

    @property
    def marks(self) -> Marks:
        return self.table.marks

    def _set_marks(self, marks: Marks) -> None:
        self.table.set_marks(marks)
        self.marked_count = None
        self._show_subtitle()
        if marks:
            self._count_marks(None)

    def clear_marks(self) -> None:
        """Drop every mark (a new integration, or after a bulk action used them)."""
        if self.marks:
            self._set_marks(Marks())

    def toggle_mark(self) -> None:
        row = self.table.current_row
        if row is None:
            return
        self._set_marks(self.marks.toggle(row))
        self.table.action_cursor_down()

    def mark_all(self) -> None:
        flt = self.host.current_filter()
        if flt is None:
            return
        self._set_marks(self.marks.with_filter(flt, bulk.snapshot(self.store, flt.integration_id)))

    @on(ResourceTable.Counted)
    def _counted(self, message: ResourceTable.Counted) -> None:
        """The table's count line, with the marked count while anything is marked (the
        message goes on to the screen, which remembers the view)."""
        self.counts = (message.shown, message.total, message.removed_shown, message.removed_total)
        self._show_subtitle()
        if self.marks:
            self._count_marks(None)  # the rows may have changed under the marks

    def _show_subtitle(self) -> None:
        text = ""
        if self.counts is not None:
            text = count_line(*self.counts)
        if self.marks:
            marked = "…" if self.marked_count is None else number(self.marked_count)
            text = f"● {marked} marked · {text}"
        self.border_subtitle = shown(text)

    def describe_marks(self) -> str:
        """What is marked, with client names as the client picker shows them."""
        return self.marks.describe(self.host.client_names())

    @work(thread=True, exclusive=True, group="marks", exit_on_error=False, description="counting the marks")
    def _count_marks(self, then: Callable[[int], None] | None) -> None:
        """Count the marks afresh (off the screen's thread) and show the count; then, if any is
        left, call ``then`` with it (on the screen's thread)."""
        marks = self.marks
        self.post_message(MarksCounted(marks, bulk.count(self.store, marks), then))

    @on(MarksCounted)
    def _marks_counted(self, message: MarksCounted) -> None:
        if message.marks == self.marks:
            self.marked_count = message.found
            self._show_subtitle()
        if message.then is None:
            return
        if not message.found:
            self.notify("No marked resource left", severity="warning", timeout=3)
            return
        message.then(message.found)

    # -- bulk actions --------------------------------------------------------------------

    def bulk_exclude(self) -> None:
        marks = self.marks

        def counted(count: int) -> None:
            def chosen(disable_records: bool | None) -> None:
                if disable_records is not None:
                    self._bulk(lambda: bulk.exclude(self.store, marks, disable_records=disable_records,
                                                    expected_count=count, operator=self.operator))

            self.app.push_screen(BulkExcludeDialog(count, self.describe_marks()), chosen)

        self._count_marks(counted)

    def bulk_include(self) -> None:
        marks = self.marks

        def counted(count: int) -> None:
            def answered(yes: bool | None) -> None:
                if yes:
                    self._bulk(lambda: bulk.include(self.store, marks, expected_count=count, operator=self.operator))

            what = f"{number(count)} marked resource{'s' if count != 1 else ''}"
            self.app.push_screen(ConfirmDialog(
                f"Include {what} again?",
                [self.describe_marks(), "The excluded ones become Not Synced until matched; the others are "
                 "left as they are. One undo (u) puts them all back."], confirm="Include", safe_focus=True),
                answered)

        self._count_marks(counted)

    def bulk_rematch(self) -> None:
        marks = self.marks

        def counted(count: int) -> None:
            if count > PREVIEW_LIMIT:
                self.notify(f"{number(count)} resources are marked; a bulk re-match previews at most "
                            f"{number(PREVIEW_LIMIT)}: narrow the marks first", severity="warning", timeout=6)
                return

            def closed(changed: bool | None) -> None:
                if changed:
                    self.clear_marks()
                    self.host.refresh_data()

            self.app.push_screen(ProposalsScreen(
                self.store, lambda: proposals.propose_iter(self.store, marks),
                title=f"Re-match {number(count)} marked resources to their best-ranked records",
                suggested=False, operator=self.operator), closed)

        self._count_marks(counted)

    @work(thread=True, group="actions", exit_on_error=False, description="the bulk action")
    def _bulk(self, action: Callable[[], bulk.BulkResult]) -> None:
        # A refusal goes to the screen as a WorkFailed of group "actions": it reads everything again.
        self.post_message(BulkDone(action()))

    @on(BulkDone)
    def _bulk_done(self, message: BulkDone) -> None:
        self.notify(message.result.message, title="Done", timeout=6)
        self.clear_marks()
        self.host.refresh_data()

    # -- suggestions, history, undo/redo, export -------------------------------------------

    def suggested(self) -> None:
        flt = self.host.current_filter()
        integration = self.host.integration
        if flt is None or integration is None:
            return
        integration_id, client_id = integration.id, flt.client_id

        def closed(changed: bool | None) -> None:
            if changed:
                self.host.refresh_data()

        scope = "this client" if client_id is not None else integration.name
        self.app.push_screen(ProposalsScreen(
            self.store, lambda: proposals.suggestions_iter(self.store, integration_id, client_id=client_id),
            title=f"Suggested matches in {scope} (score ≥ {proposals.SUGGEST_THRESHOLD:.0f})",
            suggested=True, operator=self.operator), closed)

    def history(self) -> None:
        def closed(changed: bool | None) -> None:
            if changed:
                self.host.refresh_data()

        self.app.push_screen(HistoryScreen(self.store, self.operator), closed)

    def undo(self) -> None:
        """Undo the operator's last action, after naming what it will change."""
        confirm_pending(self.screen, self.store, "undo", self.operator,
                        lambda: self.host.act(lambda: actions.undo(self.store, operator=self.operator)))

    def redo(self) -> None:
        confirm_pending(self.screen, self.store, "redo", self.operator,
                        lambda: self.host.act(lambda: actions.redo(self.store, operator=self.operator)))

    def export(self) -> None:
        flt = self.host.current_filter()
        integration = self.host.integration
        if flt is None or integration is None:
            self.notify("No integration to export from", severity="warning", timeout=3)
            return
        marks = self.marks
        names = self.host.client_names()
        dialog = ExportDialog(integration.name, view_count=self.counts[0] if self.counts else None,
                              marked_count=self.marked_count if marks else None,
                              describe=f"View: {bulk.describe_filter(flt, names)}" + (
                                  f" · marked: {self.describe_marks()}" if marks else ""))

        def chosen(choice: ExportChoice | None) -> None:
            if choice is None:
                return
            if choice.path.exists():
                def replace(yes: bool | None) -> None:
                    if yes:
                        self._export(choice, flt, marks)

                self.app.push_screen(
                    ConfirmDialog(f"Replace {choice.path.name}?", [str(choice.path)], confirm="Replace",
                                  danger=True), replace)
                return
            self._export(choice, flt, marks)

        self.app.push_screen(dialog, chosen)

    @work(thread=True, group="export", exit_on_error=False, description="the export")
    def _export(self, choice: ExportChoice, flt: ResourceFilter, marks: Marks) -> None:
        rows = (bulk.iter_marked(self.store, marks) if choice.scope == "marked"
                else queries.iter_resources(self.store, flt))
        write = render.write_csv if choice.format == "csv" else render.write_json
        written = render.write_atomically(choice.path, lambda handle: write(rows, handle))
        self.post_message(Exported(written, choice.path))

    @on(Exported)
    def _exported(self, message: Exported) -> None:
        self.notify(f"Exported {message.written:,} resources to {message.path}", title="Done", timeout=8)
