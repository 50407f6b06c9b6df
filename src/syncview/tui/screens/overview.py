"""The Sync Overview screen: tiles, filters and the Sync Status table of one integration."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Input, Select, Static
from textual.widgets.select import InvalidSelectValueError

from syncview.config import Config
from syncview.domain import MatchedOn, ReasonKind, ResourceType, SyncStatus, parse_why
from syncview.services import actions, queries
from syncview.services.actions import ActionResult
from syncview.services.queries import ClientCount, IntegrationSummary, ResourceFilter, ResourceRow, Totals
from syncview.store import Store
from syncview.tui.live import LiveUpdates
from syncview.tui.screens.details import DetailsScreen
from syncview.tui.screens.exclude import ExcludeDialog
from syncview.tui.screens.logs import SyncLogsDialog
from syncview.tui.screens.rematch import RematchDialog
from syncview.tui.screens.row_menu import RowMenu
from syncview.tui.screens.triage import Triage
from syncview.tui.state import UiState, ViewState
from syncview.tui.widgets.integration_tile import NO_INTEGRATION, IntegrationTile
from syncview.tui.widgets.key_footer import KeyFooter
from syncview.tui.widgets.picker import Picker
from syncview.tui.widgets.resource_table import Query, ResourceTable
from syncview.tui.widgets.tiles import StatusTile, TotalsTile, number
from syncview.tui.text import shown
from syncview.tui.work import WorkFailed, forward_failure

ALL = "all"
#: How often the tile's ages ("4 min ago") are written again.
TICK_S = 20.0


def _status_choices() -> list[tuple[str, str]]:
    """The status filter's choices: each status, then each way a resource matched and each
    reason it did not (values "matched:serial", "not_synced:conflict")."""
    matched, not_synced = SyncStatus.MATCHED, SyncStatus.NOT_SYNCED
    return ([("All statuses", ALL)] + [(status.label, status.value) for status in SyncStatus]
            + [(f"Matched on {how.label}", f"{matched.value}:{how.value}") for how in MatchedOn]
            + [(f"Not synced: {why.label}", f"{not_synced.value}:{why.value}") for why in ReasonKind])


@dataclass(frozen=True, slots=True)
class IntegrationView:
    """What the tiles and the client picker show for one integration, read in one go."""

    summary: IntegrationSummary
    totals: Totals
    clients: list[ClientCount]


@dataclass
class IntegrationsLoaded(Message):
    integrations: list[IntegrationSummary]


@dataclass
class IntegrationLoaded(Message):
    view: IntegrationView
    #: a reload (after a sync or an action): the client chosen stays
    keep_client: bool


@dataclass
class ActionDone(Message):
    result: ActionResult


def _label(word: str, key: str) -> ComposeResult:
    """A filter's label: the word (wide screens) and the key that opens it (narrow ones)."""
    yield Static(word, classes="label word")
    yield Static(key, classes="label key")


class OverviewScreen(Screen[None]):
    """Everything an operator needs to judge and fix one integration's sync.

    ``BINDINGS`` is everything the screen offers (help, the palette and ``[keymap]`` read it);
    the triage keys run :class:`~syncview.tui.screens.triage.Triage`, the Sync Status box the
    screen composes, through the typed contract ``TriageHost`` that this screen fulfils.
    """

    CSS_PATH = "overview.tcss"
    BINDING_GROUP_TITLE = "Overview"

    BINDINGS: ClassVar[list[BindingType]] = [
        # Priority: handled as the key arrives, so the letters typed right after it (faster than a
        # repaint, or pasted) already go to the filter box rather than to the table's keys.
        Binding("slash", "focus_filter", "Filter", id="overview.filter", priority=True,
                tooltip="Filter by name: focus the filter box"),
        # Priority too, for the same reason: "/acme⏎*" typed in one breath marks the matches
        # (only while the filter has focus: see check_action).
        Binding("enter", "filter_done", "To the table", show=False, priority=True, id="overview.filter_done",
                tooltip="Back to the table from the filter box, the filter kept"),
        Binding("escape", "back_out", "Back", show=False, id="overview.back",
                tooltip="Leave a picker or the filter for the table; in the table, clear the filter"),
        Binding("m", "rematch", "Re-match", id="overview.rematch",
                tooltip="Re-match record: link the selected resource (or the marked ones) to another local record"),
        Binding("x", "exclude", "Exclude", id="overview.exclude",
                tooltip="Exclude record: never sync the selected resource (or the marked ones)"),
        Binding("i", "include", "Include", show=False, id="overview.include",
                tooltip="Include record: undo the exclusion of the selected resource (or the marked ones)"),
        Binding("d", "details", "Details", show=False, id="overview.details",
                tooltip="Show details: payload and audit history of the selected resource"),
        Binding("u", "undo", "Undo", id="overview.undo", tooltip="Undo your last action, after saying what will change"),
        Binding("s", "sync", "Sync now", id="overview.sync",
                tooltip="Sync now: run this integration's connector (again to stop it)"),
        Binding("l", "logs", "Logs", id="overview.logs",
                tooltip="View sync logs: log entries of this integration over a date range"),
        Binding("r", "refresh", "Refresh", show=False, id="overview.refresh", tooltip="Read the store again"),
        # Each opens its picker's list at once: arrows (or a client's name), then enter. Priority,
        # as "/" is: a binding that is not runs only once its key has come back from the table, and
        # by then the keys typed after it ("ct", "c↓⏎") have been handed to the table too, where
        # the open list never sees them ("t" was lost: the list takes letters, so no binding ran).
        # A priority binding's key is still the list's or the filter box's while they have focus.
        Binding("c", "focus_client", "Client", show=False, id="overview.client", priority=True,
                tooltip="Choose client: open the client picker's list"),
        Binding("t", "focus_type", "Type", show=False, id="overview.type", priority=True,
                tooltip="Choose type: open the type filter's list"),
        Binding("S", "focus_status", "Status", show=False, id="overview.status", priority=True,
                tooltip="Choose status: open the status filter's list"),
        Binding("I", "focus_integration", "Integration", show=False, id="overview.integration", priority=True,
                tooltip="Choose integration: open the integration picker's list"),
        # Triage (tui/screens/triage.py): marks, bulk actions, suggestions, history, export, redo.
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

    def __init__(self, store: Store, config: Config | None = None, *, operator: str | None = None) -> None:
        super().__init__()
        self.store = store
        self.config = config or Config(path=None)
        self.operator = operator or actions.current_operator(self.config.operator)
        self.integration: IntegrationSummary | None = None
        self._integrations: list[IntegrationSummary] = []
        #: the current integration's client names by id (for what marks and exports describe)
        self._clients: dict[int, str] = {}
        #: the place remembered from the last run, applied once its integration has loaded
        self._pending_view: ViewState | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="tiles"):
            yield IntegrationTile(self.store, self.config, id="integration-tile", classes="tile")
            yield TotalsTile(id="totals", classes="tile")
            yield StatusTile(StatusTile.render_status(None), id="status", classes="tile")
        with Horizontal(id="filters"):
            # Each picker is labelled: the word where there is room, its key at 80 columns.
            yield from _label("Client", "c")
            yield Picker[int | str]([("All clients", ALL)], value=ALL, allow_blank=False, compact=True,
                                    type_to_search=True, id="client")
            yield from _label("Name", "/")
            yield Input(placeholder="part of the name", compact=True, id="filter")
            yield from _label("Type", "t")
            yield Picker[str](self._type_options(None), value=ALL, allow_blank=False, compact=True, id="type")
            yield from _label("Status", "S")
            yield Picker[str](_status_choices(), value=ALL, allow_blank=False, compact=True, id="status-filter")
        with Triage(self.store, self.operator, self, id="sync-status"):
            yield ResourceTable(self.store, id="resources")
        yield KeyFooter(compact=True)

    def on_mount(self) -> None:
        self.query_one("#sync-status").border_title = "Sync status"
        self.set_focus(self.table)
        state = self._ui_state
        self._pending_view = state.view(self.store.path) if state is not None else None
        self._load_integrations()
        self.set_interval(TICK_S, self._tick)
        if self.config.live_updates:
            self.mount(LiveUpdates(self.store))

    on_worker_state_changed = forward_failure

    # -- widgets -----------------------------------------------------------------------

    @property
    def table(self) -> ResourceTable:
        return self.query_one(ResourceTable)

    @property
    def triage(self) -> Triage:
        return self.query_one(Triage)

    @property
    def tile(self) -> IntegrationTile:
        return self.query_one(IntegrationTile)

    @property
    def _client_select(self) -> Select[int | str]:
        return self.query_one("#client", Select)

    def current_filter(self) -> ResourceFilter | None:
        """The filter the pickers and the text box describe, or None before an integration."""
        if self.integration is None:
            return None
        client = self._client_select.value
        type_ = self.query_one("#type", Select).value
        status = self.query_one("#status-filter", Select).value
        status, _, why = ("" if status in (ALL, Select.NULL) else str(status)).partition(":")
        return ResourceFilter(
            integration_id=self.integration.id,
            client_id=int(client) if isinstance(client, (int, str)) and client != ALL else None,
            text=self.query_one("#filter", Input).value,
            type=ResourceType(type_) if isinstance(type_, str) and type_ != ALL else None,
            status=SyncStatus(status) if status else None,
            why=parse_why(why) if why else None,
        )

    def _apply_filters(self) -> None:
        flt = self.current_filter()
        if flt is None:
            return
        old = self.table.query_
        self.table.show(Query(flt, old.sort if old else "name", old.descending if old else False))

    # -- loading -----------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="integrations", exit_on_error=False, description="reading integrations")
    def _load_integrations(self) -> None:
        self.post_message(IntegrationsLoaded(queries.list_integrations(self.store)))

    @on(IntegrationsLoaded)
    def _show_integrations(self, message: IntegrationsLoaded) -> None:
        self._integrations = message.integrations
        select = self.query_one("#integration", Select)
        options = [(shown(i.name), i.id) for i in message.integrations]
        current = self.integration.id if self.integration else None
        ids = [i.id for i in message.integrations]
        if current in ids:
            # A reload (r, after a sync): the same integration stays chosen, and so do the
            # operator's filter, client and marks: no Changed, which would start afresh.
            with select.prevent(Select.Changed):
                select.set_options(options)
                select.value = current
            return
        if not message.integrations:
            with select.prevent(Select.Changed):
                select.set_options([("No integration yet", NO_INTEGRATION)])
            self.tile.say("No integration yet: run `syncview demo` or configure one")
            return
        with select.prevent(Select.Changed):  # the first entry is chosen as the options change
            select.set_options(options)
        chosen = self._initial_integration(ids)  # last run's
        if select.value == chosen:
            self._open_integration(chosen)
        else:
            select.value = chosen

    @on(Select.Changed, "#integration")
    def _integration_chosen(self, event: Select.Changed) -> None:
        self._open_integration(event.value)

    def _open_integration(self, integration_id: object) -> None:
        """Show the integration ``integration_id``: its rows, then its tiles and clients."""
        chosen = next((i for i in self._integrations if i.id == integration_id), None)
        if chosen is None:  # the placeholder while there is no integration
            return
        self.integration = chosen
        self.tile.choose(chosen.id)
        self.triage.clear_marks()  # marks belong to one integration
        with self.prevent(Input.Changed, Select.Changed):
            self.query_one("#filter", Input).value = ""
            self._client_select.set_options([("All clients", ALL)])
        # The rows first, the tiles and clients beside them: neither waits for the other.
        self._apply_filters()
        self._load_integration(self.integration.id, keep_client=False)

    @work(thread=True, exclusive=True, group="integration", exit_on_error=False,
          description="reading the integration")
    def _load_integration(self, integration_id: int, *, keep_client: bool) -> None:
        summary = next(i for i in queries.list_integrations(self.store) if i.id == integration_id)
        view = IntegrationView(summary, queries.integration_totals(self.store, integration_id),
                               queries.integration_clients(self.store, integration_id))
        self.post_message(IntegrationLoaded(view, keep_client=keep_client))

    @on(IntegrationLoaded)
    def _show_integration(self, message: IntegrationLoaded) -> None:
        view = message.view
        if self.integration is None or view.summary.id != self.integration.id:
            return
        self.integration = view.summary
        self.tile.show(view.summary)
        self.query_one(TotalsTile).show(view.totals)
        self.query_one(StatusTile).show(view.totals)
        types = self.query_one("#type", Picker)
        type_options = self._type_options(view.totals)
        with types.prevent(Select.Changed):
            kept = types.value
            types.set_options(type_options)
            types.value = kept if kept in {value for _, value in type_options} else ALL
        if types.value != kept:  # the chosen type has no resources here: all types, and the rows again
            self._apply_filters()
        self._clients = {c.id: c.name for c in view.clients}
        select = self._client_select
        keep = select.value if message.keep_client else ALL
        options: list[tuple[str | Text, int | str]] = [("All clients", ALL)]
        options += [(shown(f"{c.name} ({number(c.resources)})"), c.id) for c in view.clients]
        with select.prevent(Select.Changed):
            select.set_options(options)
            select.value = keep if keep in {value for _, value in options} else ALL
        if message.keep_client:
            self.table.reload()
        self._restore_view()  # the client and filters of the last run, once

    @staticmethod
    def _type_options(totals: Totals | None) -> list[tuple[str, str]]:
        """All, then the types the integration has resources of (every type before it is read)."""
        return [("All", ALL)] + [(t.label, t.value) for t in ResourceType
                                 if totals is None or totals.by_type[t]]

    def _tick(self) -> None:
        """Ages ("4 min ago") move on while the screen is open."""
        if self.integration is not None:
            self.tile.show(self.integration)

    def refresh_data(self) -> None:
        """Read the tiles, the clients and the table again, keeping the operator's place."""
        if self.integration is not None:
            self._load_integration(self.integration.id, keep_client=True)

    @on(Select.Changed, "#client, #type, #status-filter")
    @on(Input.Changed, "#filter")
    def _filters_changed(self) -> None:
        self._apply_filters()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "filter_done":  # enter is the filter's only while the filter has focus
            return self.focused is self.query_one("#filter", Input)
        return True

    def action_filter_done(self) -> None:
        """enter in the filter: back to the table, the filter kept."""
        self.set_focus(self.table)

    @on(ResourceTable.Counted)
    def _counted(self) -> None:
        self._remember_view()  # (the Sync Status box shows the count: triage.py)

    @on(Button.Pressed, "#view-logs")
    def _view_logs_pressed(self) -> None:
        self.action_logs()

    @on(WorkFailed)
    def _work_failed(self, message: WorkFailed) -> None:
        """The app shows the failure; a refused action (ours or triage's) may mean the rows are
        out of date: read everything again."""
        if message.group == "actions":
            self.refresh_data()

    # -- the place remembered between runs (tui/state.py) --------------------------------

    @property
    def _ui_state(self) -> UiState | None:
        state = getattr(self.app, "ui_state", None)
        return state if isinstance(state, UiState) else None

    def _remember_view(self) -> None:
        """Write down the current integration, client and filters (each time a new result is
        counted, so a crash or a kill keeps them too)."""
        state = self._ui_state
        flt = self.current_filter()
        if state is None or flt is None or self.integration is None or self._pending_view is not None:
            return  # nothing to remember yet, or the remembered place is still to be restored
        state.set_view(self.store.path, ViewState(
            self.integration.name, flt.client_id, flt.type.value if flt.type else None,
            flt.status.value if flt.status else None, flt.text))

    def _initial_integration(self, ids: list[int]) -> int:
        """The integration to open: the one used last in this store, else the first."""
        pending = self._pending_view
        if pending is not None and pending.integration is not None:
            for integration in self._integrations:
                if integration.name == pending.integration and integration.id in ids:
                    return integration.id
        return ids[0]

    def _restore_view(self) -> None:
        """Once the remembered integration's clients are loaded, put back its client and filters."""
        view, self._pending_view = self._pending_view, None
        if view is None or self.integration is None or view.integration != self.integration.name:
            return
        with self.prevent(Input.Changed, Select.Changed):
            if view.client is not None:
                with contextlib.suppress(InvalidSelectValueError):  # the client has gone since
                    self._client_select.value = view.client
            for selector, value, choices in (("#type", view.type, ResourceType),
                                             ("#status-filter", view.status, SyncStatus)):
                if value in {c.value for c in choices}:
                    self.query_one(selector, Select).value = value
            self.query_one("#filter", Input).value = view.text
        self._apply_filters()

    # -- the row's actions -------------------------------------------------------------

    def _row(self) -> ResourceRow | None:
        row = self.table.current_row
        if row is None:
            self.notify("No resource selected", severity="warning", timeout=3)
        return row

    @on(ResourceTable.ActionsRequested)
    def _open_menu(self, message: ResourceTable.ActionsRequested) -> None:
        async def chosen(action: str | None) -> None:
            if action is not None:
                await self.run_action(action)  # Textual's: runs action_<name> of this screen

        self.app.push_screen(RowMenu(message.row), chosen)

    def action_rematch(self) -> None:
        if self.triage.marks:
            self.triage.bulk_rematch()
            return
        row = self._row()
        if row is None:
            return

        def chosen(choice: RematchDialog.Choice | None) -> None:
            if choice is not None:
                self.act(lambda: actions.rematch(
                    self.store, row.id, choice.record_id, disable_previous=choice.disable_previous,
                    expected_version=row.version, operator=self.operator))

        self.app.push_screen(RematchDialog(self.store, row), chosen)

    def action_exclude(self) -> None:
        if self.triage.marks:
            self.triage.bulk_exclude()
            return
        row = self._row()
        if row is None:
            return
        if row.status is SyncStatus.EXCLUDED:
            self.notify(f"{row.name} is already excluded; press i to include it",
                        severity="warning", timeout=4)
            return

        def chosen(disable_record: bool | None) -> None:
            if disable_record is not None:
                self.act(lambda: actions.exclude(self.store, row.id, disable_record=disable_record,
                                                  expected_version=row.version, operator=self.operator))

        self.app.push_screen(ExcludeDialog(row), chosen)

    def action_include(self) -> None:
        if self.triage.marks:
            self.triage.bulk_include()
            return
        row = self._row()
        if row is None:
            return
        if row.status is not SyncStatus.EXCLUDED:
            self.notify(f"{row.name} is not excluded", severity="warning", timeout=3)
            return
        self.act(lambda: actions.include(self.store, row.id, expected_version=row.version,
                                          operator=self.operator))

    def action_undo(self) -> None:
        self.triage.undo()  # names what will change first

    def action_details(self) -> None:
        row = self._row()
        if row is not None:
            self.app.push_screen(DetailsScreen(self.store, row.id))

    def client_names(self) -> dict[int, str]:
        """The current integration's clients by id (TriageHost)."""
        return dict(self._clients)

    def act(self, action: Callable[[], ActionResult]) -> None:
        """Run a store action in a thread; its result comes back as a message, a refusal as a
        WorkFailed (then everything is read again: see _work_failed). TriageHost."""
        self._act(action)

    @work(thread=True, group="actions", exit_on_error=False, description="the action")
    def _act(self, action: Callable[[], ActionResult]) -> None:
        self.post_message(ActionDone(action()))

    @on(ActionDone)
    def _action_done(self, message: ActionDone) -> None:
        self.notify(message.result.message, title="Done", timeout=5)
        self.refresh_data()

    # -- triage (tui/screens/triage.py) ------------------------------------------------------

    def action_toggle_mark(self) -> None:
        self.triage.toggle_mark()

    def action_mark_all(self) -> None:
        self.triage.mark_all()

    def action_unmark_all(self) -> None:
        self.triage.clear_marks()

    def action_suggested(self) -> None:
        self.triage.suggested()

    def action_history(self) -> None:
        self.triage.history()

    def action_redo(self) -> None:
        self.triage.redo()

    def action_export(self) -> None:
        self.triage.export()

    # -- keys ------------------------------------------------------------------------------

    def action_focus_filter(self) -> None:
        box = self.query_one("#filter", Input)
        if self.focused is box:  # "/" typed in the filter is part of the text
            box.insert_text_at_cursor("/")
        else:
            self.set_focus(box)

    def action_focus_client(self) -> None:
        self.query_one("#client", Picker).open()

    def action_focus_type(self) -> None:
        self.query_one("#type", Picker).open()

    def action_focus_status(self) -> None:
        self.query_one("#status-filter", Picker).open()

    def action_focus_integration(self) -> None:
        self.query_one("#integration", Picker).open()

    def action_back_out(self) -> None:
        """esc: leave a picker or the filter box for the table; in the table, clear the filter."""
        text = self.query_one("#filter", Input)
        if self.focused is not self.table:
            self.set_focus(self.table)
        elif text.value:
            text.value = ""

    def action_logs(self) -> None:
        if self.integration is None:
            self.notify("No integration to show logs for", severity="warning", timeout=3)
            return
        self.app.push_screen(SyncLogsDialog(self.store, self.integration))

    # -- sync now --------------------------------------------------------------------------

    def action_sync(self) -> None:
        """s: sync the selected integration in a worker; s again while it runs stops it after the page."""
        self.tile.toggle_sync(self.integration)

    @on(IntegrationTile.Synced)
    def _synced(self) -> None:
        # Last Synced, the tiles, the clients and the rows all moved: read them again.
        self.action_refresh()

    @on(LiveUpdates.Changed)
    def _store_changed(self) -> None:
        """Another operator or a sync changed the store: read it again, keeping the operator's place."""
        self.action_refresh()

    def action_refresh(self) -> None:
        self._load_integrations()
        self.refresh_data()
