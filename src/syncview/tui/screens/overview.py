"""The Sync Overview screen: tiles, filters and the Sync Status table of one integration."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.worker import Worker, get_current_worker
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Input, Select, Static

from syncview.config import Config, integration_named
from syncview.domain import MatchedOn, ReasonKind, ResourceType, SyncStatus, parse_why
from syncview.errors import SyncviewError
from syncview.redaction import redact
from syncview.services import actions, integrations, queries
from syncview.services.actions import ActionResult
from syncview.services.queries import ClientCount, IntegrationSummary, ResourceFilter, ResourceRow, Totals
from syncview.services.sync import SyncCancelled, SyncError, SyncProgress, SyncReport, sync_integration
from syncview.store import Store
from syncview.tui.live import LiveUpdates
from syncview.tui.screens.details import DetailsScreen
from syncview.tui.screens.exclude import ExcludeDialog
from syncview.tui.screens.logs import SyncLogsDialog
from syncview.tui.screens.rematch import RematchDialog
from syncview.tui.screens.row_menu import RowMenu
from syncview.tui.screens.triage import TriageMixin
from syncview.tui.widgets.key_footer import KeyFooter
from syncview.tui.widgets.picker import Picker
from syncview.tui.widgets.resource_table import Query, ResourceTable
from syncview.tui.widgets.tiles import StatusTile, TotalsTile, number
from syncview.tui.text import shown

ALL = "all"
#: The integration picker's value while there is no integration to choose.
NO_INTEGRATION = -1
#: How often the tile's ages ("4 min ago") are written again.
TICK_S = 20.0
#: The last run's outcome at a glance: a failure must not read like a sync.
_OUTCOME_STYLES = {"failed": "bold red", "partial": "bold yellow", "running": "bold"}
_OUTCOME_MARKS = {"success": "✓ ", "failed": "✗ ", "partial": "✗ "}


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


def _label(word: str, key: str) -> ComposeResult:
    """A filter's label: the word (wide screens) and the key that opens it (narrow ones)."""
    yield Static(word, classes="label word")
    yield Static(key, classes="label key")


class OverviewScreen(TriageMixin, Screen[None]):
    """Everything an operator needs to judge and fix one integration's sync."""

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
        # Each opens its picker's list at once: arrows (or a client's name), then enter.
        Binding("c", "focus_client", "Client", show=False, id="overview.client",
                tooltip="Choose client: open the client picker's list"),
        Binding("t", "focus_type", "Type", show=False, id="overview.type",
                tooltip="Choose type: open the type filter's list"),
        Binding("S", "focus_status", "Status", show=False, id="overview.status",
                tooltip="Choose status: open the status filter's list"),
        Binding("I", "focus_integration", "Integration", show=False, id="overview.integration",
                tooltip="Choose integration: open the integration picker's list"),
        *TriageMixin.TRIAGE_BINDINGS,
    ]

    class IntegrationsLoaded(Message):
        def __init__(self, integrations: list[IntegrationSummary]) -> None:
            super().__init__()
            self.integrations = integrations

    class IntegrationLoaded(Message):
        def __init__(self, view: IntegrationView, *, keep_client: bool) -> None:
            super().__init__()
            self.view = view
            self.keep_client = keep_client

    class ActionDone(Message):
        def __init__(self, result: ActionResult) -> None:
            super().__init__()
            self.result = result

    class Failed(Message):
        """A worker failed; ``error`` is shown as a notification."""

        def __init__(self, what: str, error: Exception) -> None:
            super().__init__()
            self.what = what
            self.error = error

    class SyncProgressed(Message):
        def __init__(self, integration_id: int, progress: SyncProgress) -> None:
            super().__init__()
            self.integration_id = integration_id
            self.progress = progress

    class SyncEnded(Message):
        """A sync run is over: ``report`` says how (None when it never started)."""

        def __init__(self, integration_id: int, report: SyncReport | None) -> None:
            super().__init__()
            self.integration_id = integration_id
            self.report = report

    def __init__(self, store: Store, config: Config | None = None, *, operator: str | None = None) -> None:
        super().__init__()
        self.store = store
        self.config = config or Config(path=None)
        #: The running "Sync now", if any, and the integration it syncs.
        self._sync: tuple[Worker[None], int] | None = None
        self.operator = operator or actions.current_operator(self.config.operator)
        self.integration: IntegrationSummary | None = None
        self._integrations: list[IntegrationSummary] = []

    def compose(self) -> ComposeResult:
        with Horizontal(id="tiles"):
            with Vertical(id="integration-tile", classes="tile"):
                # No blank entry: "no integration" is not a choice (it left the tiles and `s` on the
                # previous one). Until the integrations are read, one placeholder entry stands in.
                yield Picker[int]([("Reading integrations…", NO_INTEGRATION)], allow_blank=False, compact=True,
                                  id="integration")
                yield Static("Last sync …", id="last-synced")
                yield Static("", id="last-success")
                yield Button("View logs", id="view-logs", compact=True)
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
        with Vertical(id="sync-status"):
            yield ResourceTable(self.store, id="resources")
        yield KeyFooter(compact=True)

    def on_mount(self) -> None:
        self.query_one("#sync-status").border_title = "Sync status"
        self.query_one("#integration-tile").border_title = "Integration"
        self.set_focus(self.table)
        self._load_integrations()
        self.set_interval(TICK_S, self._tick)
        if self.config.live_updates:
            self.mount(LiveUpdates(self.store))

    # -- widgets -----------------------------------------------------------------------

    @property
    def table(self) -> ResourceTable:
        return self.query_one(ResourceTable)

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

    @work(thread=True, exclusive=True, group="integrations", exit_on_error=False)
    def _load_integrations(self) -> None:
        try:
            self.post_message(self.IntegrationsLoaded(queries.list_integrations(self.store)))
        except Exception as error:  # noqa: BLE001 - shown as a notification
            self.post_message(self.Failed("reading integrations", error))

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
            self.query_one("#last-synced", Static).update("No integration yet: run `syncview demo` or configure one")
            return
        with select.prevent(Select.Changed):  # the first entry is chosen as the options change
            select.set_options(options)
        chosen = self.initial_integration(ids)  # last run's (triage.py)
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
        self.clear_marks()  # marks belong to one integration
        with self.prevent(Input.Changed, Select.Changed):
            self.query_one("#filter", Input).value = ""
            self._client_select.set_options([("All clients", ALL)])
        # The rows first, the tiles and clients beside them: neither waits for the other.
        self._apply_filters()
        self._load_integration(self.integration.id, keep_client=False)

    @work(thread=True, exclusive=True, group="integration", exit_on_error=False)
    def _load_integration(self, integration_id: int, *, keep_client: bool) -> None:
        try:
            summary = next(i for i in queries.list_integrations(self.store) if i.id == integration_id)
            view = IntegrationView(summary, queries.integration_totals(self.store, integration_id),
                                   queries.integration_clients(self.store, integration_id))
        except Exception as error:  # noqa: BLE001
            self.post_message(self.Failed("reading the integration", error))
            return
        self.post_message(self.IntegrationLoaded(view, keep_client=keep_client))

    @on(IntegrationLoaded)
    def _show_integration(self, message: IntegrationLoaded) -> None:
        view = message.view
        if self.integration is None or view.summary.id != self.integration.id:
            return
        self.integration = view.summary
        self._show_last_synced(view.summary)
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
        select = self._client_select
        keep = select.value if message.keep_client else ALL
        options: list[tuple[str | Text, int | str]] = [("All clients", ALL)]
        options += [(shown(f"{c.name} ({number(c.resources)})"), c.id) for c in view.clients]
        with select.prevent(Select.Changed):
            select.set_options(options)
            select.value = keep if keep in {value for _, value in options} else ALL
        if message.keep_client:
            self.table.reload()
        self.restore_view()  # the client and filters of the last run, once (triage.py)

    @staticmethod
    def _type_options(totals: Totals | None) -> list[tuple[str, str]]:
        """All, then the types the integration has resources of (every type before it is read)."""
        return [("All", ALL)] + [(t.label, t.value) for t in ResourceType
                                 if totals is None or totals.by_type[t]]

    def _show_last_synced(self, summary: IntegrationSummary) -> None:
        """The last run's outcome first (a failure in red), then when the last successful one was."""
        if self._sync is not None and self._sync[1] == summary.id:
            return  # the sync's progress holds the line until it ends
        style = _OUTCOME_STYLES.get(summary.last_outcome or "", "")
        mark = _OUTCOME_MARKS.get(summary.last_outcome or "", "")
        self.query_one("#last-synced", Static).update(
            Text(f"{mark}{summary.last_run_words()}", style=style, no_wrap=True, overflow="ellipsis"))
        if summary.last_outcome in (None, "success"):
            # The same run: when it ended, and its notes (warnings) if it left any.
            second = Text(f"Ended {summary.last_run_at.astimezone():%d %b %H:%M}" if summary.last_run_at else "",
                          no_wrap=True, overflow="ellipsis")
            if summary.last_message:
                second.append_text(shown(f" · {summary.last_message}"))
        else:
            second = Text(summary.last_success_words(), no_wrap=True, overflow="ellipsis")
            if summary.last_synced_at:
                second.append(f" · {summary.last_synced_at.astimezone():%d %b %H:%M}")
        self.query_one("#last-success", Static).update(second)

    def _tick(self) -> None:
        """Ages ("4 min ago") move on while the screen is open."""
        if self.integration is not None:
            self._show_last_synced(self.integration)

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
    def _show_count(self, message: ResourceTable.Counted) -> None:
        self.show_counts(message.shown, message.total)  # with the marked count (triage.py)

    @on(Button.Pressed, "#view-logs")
    def _view_logs_pressed(self) -> None:
        self.action_logs()

    @on(Failed)
    def _show_failure(self, message: Failed) -> None:
        self.notify_error(message.what, message.error)

    @on(ResourceTable.LoadFailed)
    def _table_failed(self, message: ResourceTable.LoadFailed) -> None:
        self.notify_error("reading resources", message.error)

    def notify_error(self, what: str, error: Exception) -> None:
        if isinstance(error, SyncviewError):
            self.notify(str(error), title="Not done", severity="error", timeout=8)
        else:
            self.log.error(what, error)
            self.notify(redact(f"{what} failed: {type(error).__name__}: {error}"), title="Unexpected error",
                        severity="error", timeout=10)

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
        if self.marks:
            self.bulk_rematch()
            return
        row = self._row()
        if row is None:
            return

        def chosen(choice: RematchDialog.Choice | None) -> None:
            if choice is not None:
                self._act(lambda: actions.rematch(
                    self.store, row.id, choice.record_id, disable_previous=choice.disable_previous,
                    expected_version=row.version, operator=self.operator))

        self.app.push_screen(RematchDialog(self.store, row), chosen)

    def action_exclude(self) -> None:
        if self.marks:
            self.bulk_exclude()
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
                self._act(lambda: actions.exclude(self.store, row.id, disable_record=disable_record,
                                                  expected_version=row.version, operator=self.operator))

        self.app.push_screen(ExcludeDialog(row), chosen)

    def action_include(self) -> None:
        if self.marks:
            self.bulk_include()
            return
        row = self._row()
        if row is None:
            return
        if row.status is not SyncStatus.EXCLUDED:
            self.notify(f"{row.name} is not excluded", severity="warning", timeout=3)
            return
        self._act(lambda: actions.include(self.store, row.id, expected_version=row.version,
                                          operator=self.operator))

    def action_undo(self) -> None:
        self.confirm_undo()  # names what will change first (triage.py)

    def action_details(self) -> None:
        row = self._row()
        if row is not None:
            self.app.push_screen(DetailsScreen(self.store, row.id))

    def _act(self, action: Callable[[], ActionResult]) -> None:
        """Run a store action in a thread; its result or refusal comes back as a message."""
        def run() -> None:
            try:
                self.post_message(self.ActionDone(action()))
            except Exception as error:  # noqa: BLE001 - the services' message is shown as is
                self.post_message(self.Failed("the action", error))
                self.post_message(self.Refresh())

        self.run_worker(run, thread=True, group="actions", exit_on_error=False)

    class Refresh(Message):
        """Read everything again (after a refused action the rows may be out of date)."""

    @on(Refresh)
    def _refresh_requested(self) -> None:
        self.refresh_data()

    @on(ActionDone)
    def _action_done(self, message: ActionDone) -> None:
        self.notify(message.result.message, title="Done", timeout=5)
        self.refresh_data()

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
        if self._sync is not None:
            worker, integration_id = self._sync
            worker.cancel()
            name = next((i.name for i in self._integrations if i.id == integration_id), "the integration")
            self.notify(f"Stopping the sync of {name} after the page it is on", timeout=4)
            return
        if self.integration is None:
            self.notify("No integration to sync", severity="warning", timeout=3)
            return
        integration = self.integration
        self._sync = (self._run_sync(integration.id, integration.name), integration.id)
        self._show_sync_line(integration.id, shown(f"Syncing {integration.name}…", style="bold"))

    @work(thread=True, group="sync", exit_on_error=False)
    def _run_sync(self, integration_id: int, name: str) -> None:
        worker = get_current_worker()

        def progress(step: SyncProgress) -> None:
            if worker.is_cancelled:
                raise SyncCancelled()
            self.post_message(self.SyncProgressed(integration_id, step))

        report: SyncReport | None = None
        try:
            where = str(self.config.path or "the config")
            chosen = integration_named(integrations.syncable(self.store, self.config), name, where)
            report = sync_integration(self.store, chosen, on_progress=progress)
        except SyncError as error:
            report = error.report
        except SyncCancelled:
            self.post_message(self.Failed(f"syncing {name}", SyncCancelled(
                f"the sync of {name} was stopped; the pages it saved are kept and the next sync completes it")))
        except Exception as error:  # noqa: BLE001 - config, secrets, a sync already running
            self.post_message(self.Failed(f"syncing {name}", error))
        self.post_message(self.SyncEnded(integration_id, report))

    def _show_sync_line(self, integration_id: int, text: Text) -> None:
        if self.integration is not None and self.integration.id == integration_id:
            self.query_one("#last-synced", Static).update(text)

    @on(SyncProgressed)
    def _sync_progressed(self, message: SyncProgressed) -> None:
        step = message.progress
        text = shown(f"Syncing: {step.describe()}", style="bold")
        text.no_wrap, text.overflow = True, "ellipsis"
        text.append(" · s stops", style="dim")
        self._show_sync_line(message.integration_id, text)

    @on(SyncEnded)
    def _sync_ended(self, message: SyncEnded) -> None:
        self._sync = None
        report = message.report
        if report is not None:
            if report.ok:
                self.notify(report.summary(), title="Synced", timeout=8)
            else:
                self.notify(report.summary(), title="Sync stopped", severity="error", timeout=12)
        # Last Synced, the tiles, the clients and the rows all moved: read them again.
        self.action_refresh()

    @on(LiveUpdates.Changed)
    def _store_changed(self) -> None:
        """Another operator or a sync changed the store: read it again, keeping the operator's place."""
        self.action_refresh()

    def action_refresh(self) -> None:
        self._load_integrations()
        self.refresh_data()
