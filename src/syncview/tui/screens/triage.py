"""Triage at keyboard speed on the Sync Overview: marks, bulk actions, suggestions, history,
export, and undo/redo that say what they will change before they do it.

A mixin of :class:`~syncview.tui.screens.overview.OverviewScreen`, kept apart so the
screen's module stays about the screen. It relies on the screen's ``store``,
``operator``, ``integration``, ``table``, ``current_filter()``, ``refresh_data()``,
``notify_error()`` and ``_act()``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from textual.binding import Binding, BindingType
from textual.widgets import Input, Select
from textual.widgets.select import InvalidSelectValueError

from syncview import render
from syncview.domain import ResourceType, SyncStatus
from syncview.services import actions, bulk, proposals, queries
from syncview.services.bulk import Marks
from syncview.tui.screens.confirm import BulkExcludeDialog, ConfirmDialog
from syncview.tui.screens.export import ExportChoice, ExportDialog
from syncview.tui.screens.history import HistoryScreen, confirm_pending
from syncview.tui.screens.proposals import PREVIEW_LIMIT, ProposalsScreen
from syncview.tui.state import UiState, ViewState
from syncview.tui.widgets.tiles import number
from syncview.tui.text import shown

if TYPE_CHECKING:
    from syncview.services.queries import ResourceFilter

#: The overview's triage keys (ids under ``overview.`` like the rest of the screen's).
TRIAGE_BINDINGS: list[BindingType] = [
    Binding("space", "toggle_mark", "Mark", id="overview.mark",
            tooltip="Mark row: mark or unmark the selected resource for a bulk action"),
    Binding("asterisk", "mark_all", "Mark all", key_display="*", show=False, id="overview.mark_all",
            tooltip="Mark all rows the current filters select"),
    Binding("minus", "unmark_all", "Unmark all", key_display="-", show=False, id="overview.unmark_all",
            tooltip="Unmark all: clear every mark"),
    Binding("a", "suggested", "Suggested", id="overview.suggested",
            tooltip="Suggested matches: Not Synced resources with a close record, accepted one by one or in bulk"),
    Binding("h", "history", "History", show=False, id="overview.history",
            tooltip="History: every operator action (who, when, before → after); undo and redo yours"),
    Binding("e", "export", "Export", show=False, id="overview.export",
            tooltip="Export the current view or the marked rows to CSV or JSON"),
    Binding("ctrl+r", "redo", "Redo", show=False, id="overview.redo",
            tooltip="Redo: apply again what your last undo reverted"),
]

def count_line(shown: int, total: int, removed_shown: int, removed_total: int) -> str:
    """The table's count line in the tiles' terms: "resources" are the live ones (the total
    tile's number, with no client chosen) and the removed-remotely rows the table also lists
    are said apart: "1,510 resources · 18 removed remotely", "290 of 1,510 · 3 removed remotely"."""
    live, live_total = shown - removed_shown, total - removed_total
    text = f"{number(live)} of {number(live_total)}" if shown != total else f"{number(live_total)} resources"
    return text + (f" · {number(removed_shown)} removed remotely" if removed_shown else "")


class TriageMixin:
    """Marks and the actions that use them; see the module docstring for what it needs."""

    TRIAGE_BINDINGS: ClassVar[list[BindingType]] = TRIAGE_BINDINGS

    #: rows shown, rows before text/type/status, and how many of each are removed remotely
    _counts: tuple[int, int, int, int] | None = None
    _marked_count: int | None = None
    #: the place remembered from the last run, applied once its integration has loaded
    _pending_view: ViewState | None = None

    # -- the place remembered between runs (tui/state.py) --------------------------------

    @property
    def _ui_state(self) -> UiState | None:
        return getattr(self.app, "ui_state", None)

    def on_mount(self) -> None:
        state = self._ui_state
        self._pending_view = state.view(self.store.path) if state is not None else None

    def _remember_view(self) -> None:
        """Write down the current integration, client and filters (each time a new result is
        counted, so a crash or a kill keeps them too)."""
        state = self._ui_state
        flt = self.current_filter()
        if state is None or flt is None or self._pending_view is not None:
            return  # nothing to remember yet, or the remembered place is still to be restored
        client = flt.client_id if isinstance(flt.client_id, int) else None
        state.set_view(self.store.path, ViewState(
            self.integration.name, client, flt.type.value if flt.type else None,
            flt.status.value if flt.status else None, flt.text))

    def initial_integration(self, ids: list[int]) -> int:
        """The integration to open: the one used last in this store, else the first."""
        pending = self._pending_view
        if pending is not None and pending.integration is not None:
            for integration in self._integrations:
                if integration.name == pending.integration and integration.id in ids:
                    return integration.id
        return ids[0]

    def restore_view(self) -> None:
        """Once the remembered integration's clients are loaded, put back its client and filters."""
        view, self._pending_view = self._pending_view, None
        if view is None or self.integration is None or view.integration != self.integration.name:
            return
        client = self._client_select
        with self.prevent(Input.Changed, Select.Changed):
            if view.client is not None:
                with contextlib.suppress(InvalidSelectValueError):  # the client has gone since
                    client.value = view.client
            for selector, value, choices in (("#type", view.type, ResourceType), ("#status-filter", view.status,
                                                                                   SyncStatus)):
                if value in {c.value for c in choices}:
                    self.query_one(selector, Select).value = value
            self.query_one("#filter", Input).value = view.text
        self._apply_filters()

    # -- marks ---------------------------------------------------------------------------

    @property
    def marks(self) -> Marks:
        return self.table.marks

    def _set_marks(self, marks: Marks) -> None:
        self.table.set_marks(marks)
        self._marked_count = None
        self._show_subtitle()
        if marks:
            self._count_marks()

    def clear_marks(self) -> None:
        """Drop every mark (a new integration, or after a bulk action used them)."""
        if self.marks:
            self._set_marks(Marks())

    def action_toggle_mark(self) -> None:
        row = self.table.current_row
        if row is None:
            return
        self._set_marks(self.marks.toggle(row))
        self.table.action_cursor_down()

    def action_mark_all(self) -> None:
        flt = self.current_filter()
        if flt is None:
            return
        self._set_marks(self.marks.with_filter(flt, bulk.snapshot(self.store, flt.integration_id)))

    def action_unmark_all(self) -> None:
        self.clear_marks()

    def _count_marks(self) -> None:
        self._with_marked_count(None)

    def _marks_counted(self, marks: Marks, found: int) -> None:
        if marks == self.marks:
            self._marked_count = found
            self._show_subtitle()

    def show_counts(self, shown: int, total: int, removed_shown: int = 0, removed_total: int = 0) -> None:
        """The table's shown/total line, with the marked count while anything is marked."""
        self._counts = (shown, total, removed_shown, removed_total)
        self._show_subtitle()
        self._remember_view()
        if self.marks:
            self._count_marks()  # the rows may have changed under the marks

    def _show_subtitle(self) -> None:
        box = self.query_one("#sync-status")
        text = ""
        if self._counts is not None:
            text = count_line(*self._counts)
        if self.marks:
            marked = "…" if self._marked_count is None else number(self._marked_count)
            text = f"● {marked} marked · {text}"
        box.border_subtitle = shown(text)

    def describe_marks(self) -> str:
        """What is marked, with client names as the client picker shows them."""
        return self.marks.describe(self._client_names())

    def _client_names(self) -> dict[int, str]:
        """The client picker's clients by id, their names without the resource counts."""
        return {value: re.sub(r" \([\d,]+\)$", "", str(label))
                for label, value in self._client_select._options if isinstance(value, int)}

    def _with_marked_count(self, then: Callable[[int], None] | None) -> None:
        """Count the marks afresh (off the screen's thread) and show the count; then, if any
        is left, call ``then`` with it."""
        marks = self.marks

        def work() -> None:
            try:
                found = bulk.count(self.store, marks)
            except Exception as error:  # noqa: BLE001 - shown as a notification
                self.app.call_from_thread(self.notify_error, "counting the marks", error)
                return
            self.app.call_from_thread(counted, found)

        def counted(found: int) -> None:
            self._marks_counted(marks, found)
            if then is None:
                return
            if not found:
                self.notify("No marked resource left", severity="warning", timeout=3)
                return
            then(found)

        self.run_worker(work, thread=True, group="marks", exclusive=True, exit_on_error=False)

    # -- bulk actions --------------------------------------------------------------------

    def bulk_exclude(self) -> None:
        marks = self.marks

        def counted(count: int) -> None:
            def chosen(disable_records: bool | None) -> None:
                if disable_records is not None:
                    self._bulk(lambda: bulk.exclude(self.store, marks, disable_records=disable_records,
                                                    expected_count=count, operator=self.operator))

            self.app.push_screen(BulkExcludeDialog(count, self.describe_marks()), chosen)

        self._with_marked_count(counted)

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

        self._with_marked_count(counted)

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
                    self.refresh_data()

            self.app.push_screen(ProposalsScreen(
                self.store, lambda: proposals.propose_iter(self.store, marks),
                title=f"Re-match {number(count)} marked resources to their best-ranked records",
                suggested=False, operator=self.operator), closed)

        self._with_marked_count(counted)

    def _bulk(self, action: Callable[[], bulk.BulkResult]) -> None:
        def work() -> None:
            try:
                result = action()
            except Exception as error:  # noqa: BLE001 - the services' message is shown as is
                self.app.call_from_thread(self.notify_error, "the bulk action", error)
                self.app.call_from_thread(self.refresh_data)
                return
            self.app.call_from_thread(self._bulk_done, result)

        self.run_worker(work, thread=True, group="actions", exit_on_error=False)

    def _bulk_done(self, result: bulk.BulkResult) -> None:
        self.notify(result.message, title="Done", timeout=6)
        self.clear_marks()
        self.refresh_data()

    # -- suggestions, history, undo/redo, export -------------------------------------------

    def action_suggested(self) -> None:
        flt = self.current_filter()
        if flt is None:
            return
        integration_id, client_id = flt.integration_id, flt.client_id

        def closed(changed: bool | None) -> None:
            if changed:
                self.refresh_data()

        scope = "this client" if client_id is not None else self.integration.name
        self.app.push_screen(ProposalsScreen(
            self.store, lambda: proposals.suggestions_iter(self.store, integration_id, client_id=client_id),
            title=f"Suggested matches in {scope} (score ≥ {proposals.SUGGEST_THRESHOLD:.0f})",
            suggested=True, operator=self.operator), closed)

    def action_history(self) -> None:
        def closed(changed: bool | None) -> None:
            if changed:
                self.refresh_data()

        self.app.push_screen(HistoryScreen(self.store, self.operator), closed)

    def confirm_undo(self) -> None:
        confirm_pending(self, self.store, "undo", self.operator,
                        lambda: self._act(lambda: actions.undo(self.store, operator=self.operator)))

    def action_redo(self) -> None:
        confirm_pending(self, self.store, "redo", self.operator,
                        lambda: self._act(lambda: actions.redo(self.store, operator=self.operator)))

    def action_export(self) -> None:
        flt = self.current_filter()
        if flt is None:
            self.notify("No integration to export from", severity="warning", timeout=3)
            return
        marks = self.marks
        dialog = ExportDialog(self.integration.name, view_count=self._counts[0] if self._counts else None,
                              marked_count=self._marked_count if marks else None,
                              describe=f"View: {bulk.describe_filter(flt, self._client_names())}" + (
                                  f" · marked: {self.describe_marks()}" if marks else ""))

        def chosen(choice: ExportChoice | None) -> None:
            if choice is None:
                return
            if choice.path.exists():
                self.app.push_screen(
                    ConfirmDialog(f"Replace {choice.path.name}?", [str(choice.path)], confirm="Replace",
                                  danger=True),
                    lambda yes: self._export(choice, flt, marks) if yes else None)
                return
            self._export(choice, flt, marks)

        self.app.push_screen(dialog, chosen)

    def _export(self, choice: ExportChoice, flt: ResourceFilter, marks: Marks) -> None:
        def work() -> None:
            rows = (bulk.iter_marked(self.store, marks) if choice.scope == "marked"
                    else queries.iter_resources(self.store, flt))
            write = render.write_csv if choice.format == "csv" else render.write_json
            try:
                written = render.write_atomically(choice.path, lambda handle: write(rows, handle))
            except Exception as error:  # noqa: BLE001
                self.app.call_from_thread(self.notify_error, "the export", error)
                return
            self.app.call_from_thread(self.notify, f"Exported {written:,} resources to {choice.path}",
                                      title="Done", timeout=8)

        self.run_worker(work, thread=True, group="export", exit_on_error=False)
