"""``syncview sync`` and ``syncview connectors``: running connectors headless, and listing them.

The main group (:mod:`syncview.cli`) attaches these commands; this module never
imports it. It reads the group's context object only for ``config`` and ``store``
(the store is opened, and the config's integrations registered in it, on first use),
and reports failures by raising :class:`~syncview.errors.SyncviewError`, which the
group turns into one ``syncview: error: ...`` line and exit status 1.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import rich_click as click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from syncview.cli_output import console
from syncview.config import IntegrationConfig, integration_named
from syncview.connectors import registry
from syncview.errors import SyncviewError
from syncview.render import dumps
from syncview.safe_text import printable
from syncview.services import integrations
from syncview.services.sync import (
    SyncAlreadyRunningError,
    SyncError,
    SyncProgress,
    SyncReport,
    record_not_started,
    sync_integration,
)

#: Plain progress lines (not on a terminal) come at most this often per integration, in seconds.
PLAIN_PROGRESS_EVERY = 2.0


def _chosen(candidates: tuple[IntegrationConfig, ...], where: str, name: str | None,
            every: bool) -> list[IntegrationConfig]:
    """The integrations the operator asked for: one by name (any case), or every enabled one."""
    if not candidates:
        raise click.UsageError(f"no integrations are configured in {where}; add an [[integrations]] table "
                               "(see config.example.toml), or try `syncview demo`")
    if name is not None and every:
        raise click.UsageError("give an integration name or --all, not both")
    if every:
        return [i for i in candidates if i.enabled]
    if name is None:
        names = ", ".join(f'"{i.name}"' for i in candidates)
        raise click.UsageError(f"name the integration to sync, or use --all; known: {names}")
    return [integration_named(candidates, name, where)]


class _PlainProgress:
    """Progress as occasional plain lines, for logs and pipes."""

    def __init__(self, console: Console, *, quiet: bool = False) -> None:
        self.console = console
        self.quiet = quiet
        self.last = 0.0

    def start(self, integration: IntegrationConfig) -> Callable[[SyncProgress], None]:
        self.line(f"{integration.name}: syncing ({integration.kind})...")
        self.last = time.monotonic()

        def report(progress: SyncProgress) -> None:
            now = time.monotonic()
            if progress.pages and now - self.last >= PLAIN_PROGRESS_EVERY:
                self.last = now
                self.line(f"{progress.integration}: {progress.describe()}")
        return report

    def line(self, text: str) -> None:
        if not self.quiet:
            self.console.print(Text(printable(text)))

    def done(self, line: str) -> None:
        self.line(line)

    def __enter__(self) -> _PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class _BarProgress:
    """A rich progress bar per integration, for a terminal."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[traffic]}"), TimeElapsedColumn(), TextColumn("left"),
            TimeRemainingColumn(), console=console, transient=False,
        )

    def start(self, integration: IntegrationConfig) -> Callable[[SyncProgress], None]:
        name = printable(integration.name)
        task = self.progress.add_task(f"{name}: connecting", total=None, traffic="")

        def report(progress: SyncProgress) -> None:
            if not progress.pages:
                return
            entity = printable(progress.entity) if progress.entity else "items"
            requests = f" · {progress.requests:,} requests" if progress.requests is not None else ""
            self.progress.update(task, traffic=f"{progress.pages:,} pages{requests}")
            if progress.total is not None:
                # The product said how many of this entity there are: a real bar for it.
                self.progress.update(task, description=f"{name}: {entity}", completed=progress.entity_fetched,
                                     total=progress.total)
            else:
                self.progress.update(task, description=f"{name}: {entity}", completed=progress.fetched, total=None)
        self.task = task
        return report

    def line(self, text: str) -> None:
        self.progress.console.print(Text(printable(text)))

    def done(self, line: str) -> None:
        self.progress.update(self.task, total=1, completed=1)
        self.progress.console.print(Text(printable(line)))

    def __enter__(self) -> _BarProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()


#: How often ``--wait`` looks again whether another process still holds an integration's sync.
WAIT_POLL = 2.0
_EVERY = re.compile(r"^\s*(\d+)\s*(s|m|min|h|d)\s*$")
_SECONDS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def _interval(text: str | None) -> float | None:
    """``--every``'s interval in seconds: 90s, 30m, 3h, 1d."""
    if text is None:
        return None
    found = _EVERY.match(text)
    if found is None or int(found[1]) == 0:
        raise click.UsageError(f"--every takes an interval such as 30m, 3h or 1d, got {text!r}")
    return int(found[1]) * _SECONDS[found[2]]


@click.command("sync")
@click.argument("integration", required=False)
@click.option("--all", "every", is_flag=True, help="Sync every enabled integration of the config.")
@click.option("--full", is_flag=True, help="Fetch everything, not only what changed since the last successful sync.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary of the runs (progress goes to stderr).")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors.")
@click.option("--every", "interval", metavar="INTERVAL",
              help="Keep running: sync again every INTERVAL (30m, 3h, 1d) until stopped (SIGTERM, Ctrl-C).")
@click.option("--wait", is_flag=True, help="If another process is syncing an integration, wait for it to finish "
                                           "instead of failing.")
@click.pass_obj
def sync_command(app: Any, integration: str | None, every: bool, full: bool, as_json: bool, quiet: bool,
                 interval: str | None, wait: bool) -> None:
    """Run integrations' connectors and bring the store in step with what they fetch.

    Each page fetched is saved as it arrives, so an interrupted sync keeps what it saved and
    the next one completes it. Resources a full sync no longer sees are marked removed
    remotely, and so are those an incremental one finds missing from the product's list of
    ids. Operators' re-matches and exclusions are never undone by a sync.

    Two syncs of one integration never run at once: the second says which process holds it
    and fails, or with --wait waits for it. With --every the command keeps running and syncs
    again at each interval (a failed round is logged and the next one still runs); SIGTERM,
    SIGHUP or Ctrl-C stops it (exit 130), the page in hand kept or dropped whole.

    Exits 1 when any sync failed or stopped early (the others still run).
    """
    period = _interval(interval)
    config = app.config
    chosen = _chosen(integrations.syncable(app.store, config), str(config.path or "the config file"),
                     integration, every)
    if period is None:
        _sync_round(app, chosen, full=full, as_json=as_json, quiet=quiet, wait=wait)
        return
    while True:  # SIGTERM and SIGHUP end it as Ctrl-C does (syncview.signals), the page in hand kept or dropped whole
        began = time.monotonic()
        try:
            _sync_round(app, chosen, full=full, as_json=as_json, quiet=quiet, wait=wait)
        except SyncviewError as error:  # said and logged; the schedule goes on
            console(stderr=True).print(Text(printable(f"syncview: error: {error}")))
        if not quiet:
            console(stderr=as_json).print(Text(f"next sync in {str(interval).strip()}"))
        time.sleep(max(0.0, began + period - time.monotonic()))


def _sync_round(app: Any, chosen: list[IntegrationConfig], *, full: bool, as_json: bool, quiet: bool,
                wait: bool) -> None:
    """Sync each of ``chosen`` once; raise one error naming the failures, each also logged in the store."""
    # Under --json stdout stays one parseable document: progress goes to stderr, and only
    # when that is a terminal (a script reading the JSON wants no chatter in its logs).
    output = console(stderr=as_json)
    if output.is_terminal and not quiet:
        display: _BarProgress | _PlainProgress = _BarProgress(output)
    else:
        display = _PlainProgress(output, quiet=as_json or quiet)
    reports: list[SyncReport] = []
    failures: list[str] = []
    with display:
        for integration_config in chosen:
            on_progress = display.start(integration_config)
            try:
                report = _sync_one(app.store, integration_config, full=full, on_progress=on_progress, wait=wait,
                                   say=display.line)
            except SyncError as error:
                report = error.report
                failures.append(str(error))
            except SyncviewError as error:  # before the run started: config, secrets, already running
                display.done(f"{integration_config.name}: not synced: {error}")
                failures.append(str(error))
                record_not_started(app.store, integration_config.name, str(error))
                continue
            reports.append(report)
            display.done(report.summary())
    if as_json:
        click.echo(dumps({"ok": not failures, "runs": [r.as_dict() for r in reports]}))
    if failures:
        if len(chosen) == 1:
            raise SyncviewError(failures[0])
        raise SyncviewError(f"{len(failures)} of {len(chosen)} syncs failed: " + "; ".join(failures))


def _sync_one(store: Any, integration: IntegrationConfig, *, full: bool, on_progress: Callable[[SyncProgress], None],
              wait: bool, say: Callable[[str], None]) -> SyncReport:
    """One sync; with ``wait``, a sync another process holds is waited for (said once), then run."""
    said = False
    while True:
        try:
            return sync_integration(store, integration, full=full, on_progress=on_progress)
        except SyncAlreadyRunningError as error:
            if not wait:
                raise
            if not said:
                say(f"{integration.name}: waiting: {error}")
                said = True
            time.sleep(WAIT_POLL)


@click.command("connectors")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def connectors_command(as_json: bool) -> None:
    """List the installed connector kinds and the settings each reads from an [[integrations]] table."""
    described: list[dict[str, Any]] = []
    for kind, entry_point in sorted(registry.available().items()):
        try:
            cls = registry.load(kind)
        except (SyncviewError, ImportError) as error:
            described.append({"kind": kind, "title": None, "error": f"cannot be loaded: {error}",
                              "source": entry_point.value, "settings": []})
            continue
        described.append({
            "kind": kind, "title": cls.title, "source": entry_point.value,
            "incremental": cls.supports_incremental, "live_ids": cls.supports_live_ids,
            "settings": [{"name": s.name, "type": s.type, "required": s.required and s.default is None,
                          "secret": s.secret, "default": s.default, "help": s.help} for s in cls.settings_schema],
        })
    if as_json:
        click.echo(dumps(described))
        return
    table = Table("Kind", "Title", "Setting", "Type", "Required", "Secret", "Default", box=None)
    for item in described:
        if not item["settings"]:
            table.add_row(item["kind"], item["title"] or item.get("error", ""), "—", "", "", "", "")
        for number, s in enumerate(item["settings"]):
            first = number == 0
            table.add_row(item["kind"] if first else "", (item["title"] or "") if first else "", s["name"], s["type"],
                          "yes" if s["required"] else "", "secret" if s["secret"] else "",
                          _default_text(s["default"]))
    console().print(table)
    console().print("Settings go in an [[integrations]] table with name and kind; see config.example.toml.")


def _default_text(default: Any) -> str:
    """A setting's default as the table shows it: a list as its names (TOML's own spelling)."""
    if default is None:
        return ""
    if isinstance(default, list | tuple):
        return "[" + ", ".join(f'"{v}"' for v in default) + "]"
    return str(default)
