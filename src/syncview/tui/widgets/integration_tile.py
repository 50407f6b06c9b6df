"""The Integration tile of the Sync Overview: which integration, how its last sync went, and
Sync now, whose progress holds the tile's first line while it runs.

The screen chooses the integration (:meth:`IntegrationTile.choose`, then :meth:`show` once
it is read) and asks for a sync (:meth:`toggle_sync`); the tile runs it in a worker and,
when the run is over, posts :class:`IntegrationTile.Synced` for the screen to read
everything again.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Button, Static
from textual.worker import Worker, get_current_worker

from syncview.config import Config, integration_named
from syncview.services import integrations
from syncview.services.queries import IntegrationSummary
from syncview.services.sync import SyncCancelled, SyncError, SyncProgress, SyncReport, sync_integration
from syncview.store import Store
from syncview.tui.text import shown
from syncview.tui.widgets.picker import Picker
from syncview.tui.work import forward_failure

#: The integration picker's value while there is no integration to choose.
NO_INTEGRATION = -1
#: The last run's outcome at a glance: a failure must not read like a sync.
_OUTCOME_STYLES = {"failed": "bold red", "partial": "bold yellow", "running": "bold"}
_OUTCOME_MARKS = {"success": "✓ ", "failed": "✗ ", "partial": "✗ "}


@dataclass
class SyncProgressed(Message):
    integration_id: int
    progress: SyncProgress

    def can_replace(self, message: Message) -> bool:
        # The line shows the latest step only: a backlog of steps collapses to the newest.
        return isinstance(message, SyncProgressed) and message.integration_id == self.integration_id


@dataclass
class SyncEnded(Message):
    """A sync run is over: ``report`` says how (None when it never started or was stopped)."""

    integration_id: int
    name: str
    report: SyncReport | None
    #: the operator stopped it (s again)
    stopped: bool = False


class IntegrationTile(Vertical):
    """The integration picker (``#integration``), the last run's two lines and View logs."""

    @dataclass
    class Synced(Message):
        """A sync run ended: the tiles, the clients and the rows may all have moved."""

    def __init__(self, store: Store, config: Config, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.store = store
        self.config = config
        #: the integration on screen (its lines are the ones this tile writes)
        self.integration_id: int | None = None
        #: the running sync, if any: its worker, integration id and name
        self._sync: tuple[Worker[None], int, str] | None = None

    on_worker_state_changed = forward_failure

    def compose(self) -> ComposeResult:
        # No blank entry: "no integration" is not a choice (it left the tiles and `s` on the
        # previous one). Until the integrations are read, one placeholder entry stands in.
        yield Picker[int]([("Reading integrations…", NO_INTEGRATION)], allow_blank=False, compact=True,
                          id="integration")
        yield Static("Last sync …", id="last-synced")
        yield Static("", id="last-success")
        yield Button("View logs", id="view-logs", compact=True)

    def on_mount(self) -> None:
        self.border_title = "Integration"

    def choose(self, integration_id: int) -> None:
        """The screen shows ``integration_id`` now (its lines follow once it is read)."""
        self.integration_id = integration_id

    def say(self, text: str) -> None:
        """A line of our own in place of the last run's (no integration yet)."""
        self.query_one("#last-synced", Static).update(text)

    def show(self, summary: IntegrationSummary) -> None:
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

    # -- sync now --------------------------------------------------------------------------

    def toggle_sync(self, integration: IntegrationSummary | None) -> None:
        """Sync ``integration`` in a worker; while a sync runs, stop it after the page it is on."""
        if self._sync is not None:
            worker, _, name = self._sync
            worker.cancel()
            self.notify(f"Stopping the sync of {name} after the page it is on", timeout=4)
            return
        if integration is None:
            self.notify("No integration to sync", severity="warning", timeout=3)
            return
        started: Worker[None] = self._run_sync(integration.id, integration.name)
        started.description = f"syncing {integration.name}"  # what a failure's line names
        self._sync = (started, integration.id, integration.name)
        self._show_sync_line(integration.id, shown(f"Syncing {integration.name}…", style="bold"))

    @work(thread=True, group="sync", exit_on_error=False, description="syncing")
    def _run_sync(self, integration_id: int, name: str) -> None:
        worker = get_current_worker()

        def progress(step: SyncProgress) -> None:
            if worker.is_cancelled:
                raise SyncCancelled()
            self.post_message(SyncProgressed(integration_id, step))

        report: SyncReport | None = None
        stopped = False
        try:
            where = str(self.config.path or "the config")
            chosen = integration_named(integrations.syncable(self.store, self.config), name, where)
            report = sync_integration(self.store, chosen, on_progress=progress)
        except SyncError as error:  # the run failed or stopped part way: its report says how
            report = error.report
        except SyncCancelled:
            stopped = True
        finally:
            # Posted by the thread, whatever happened: a stopped worker's state changes as `s`
            # is pressed, long before the run stops at its page. A failure to start (config,
            # secrets, a sync already running) goes up as a WorkFailed too.
            self.post_message(SyncEnded(integration_id, name, report, stopped))

    def _show_sync_line(self, integration_id: int, text: Text) -> None:
        if self.integration_id == integration_id:
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
        if message.stopped:
            self.notify(f"the sync of {message.name} was stopped; the pages it saved are kept and the next "
                        "sync completes it", title="Not done", severity="error", timeout=8)
        report = message.report
        if report is not None:
            if report.ok:
                self.notify(report.summary(), title="Synced", timeout=8)
            else:
                self.notify(report.summary(), title="Sync stopped", severity="error", timeout=12)
        self.post_message(self.Synced())
