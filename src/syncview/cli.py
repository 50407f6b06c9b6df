"""The headless face of syncview: the same services as the screen, for scripts and SSH one-liners.

Exit codes: 0 on success; 1 when the command could not do its work (unknown
integration, stale resource, broken config, unusable store...); 2 when the
command line itself is wrong; 130 when interrupted. Every failure prints exactly
one ``syncview: error: ...`` line on standard error saying what is wrong and
what to do, never a traceback, and leaves the store as it was. ``--json``
output is stable for scripts.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import traceback
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn

import platformdirs
import rich_click as click
from click.exceptions import Abort, Exit
from rich.cells import cell_len
from rich.table import Table
from rich.text import Text

from syncview import __version__, signals
from syncview.cli_output import console, reader_gone
from syncview.config import (Config, default_config_path, load_config, resolve_secret, resolve_settings,
                             warn_if_readable_by_others)
from syncview.demo import DEFAULT_RESOURCES
from syncview.domain import MatchedOn, ReasonKind, ResourceType, SyncStatus, parse_resource_type, parse_why
from syncview.errors import ConfigError, SyncviewError
from syncview.redaction import redact
from syncview.render import dumps, jsonable, resource_record, write_atomically, write_csv, write_json
from syncview.safe_text import SCREEN_LIMIT, printable
from syncview.services import actions, columns, integrations, matching, queries
from syncview.services.seed import seed_demo
from syncview.services.sync import close_abandoned_runs
from syncview.store import Store, open_store
from syncview.store.db import default_store_path, remove_sqlite_file
from syncview.store.dialect import StoreUrl, is_store_url, shown_url
from syncview.timeutil import ago, local, parse_when

#: Names and messages come from remote products: never let rich read them as markup.
out = console()

#: Exit codes (see the module docstring).
EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


class App:
    """What every command needs: the config and, opened on first use, the store.

    Used as a context manager around the command: if the command fails on a store
    file this run created, the file is removed again, so a failed command leaves
    no trace (an existing store is protected by the services' transactions).
    """

    def __init__(self, db: Path | str | None, config_path: Path | None) -> None:
        # Absolute paths, so messages and `status --json` name the files whatever the working directory.
        # A broken config is kept, not raised: every command that reads the config raises it (one
        # line, as before), while `doctor` can still report it among its other findings.
        self.config_or_none: Config | None = None
        self.config_error: ConfigError | None = None
        try:
            self.config_or_none = load_config(config_path.expanduser().absolute() if config_path else None)
        except ConfigError as error:
            self.config_error = error
        store_path = self.config_or_none.store_path if self.config_or_none else None
        location = db or store_path or default_store_path()
        #: the store's URL as given (a PostgreSQL store), None for a file; db_path is what messages name
        self.db_url: str | None = None
        self.db_path: Path | StoreUrl
        if is_store_url(location):
            self.db_url = str(location)
            self.db_path = shown_url(self.db_url)
        else:
            self.db_path = Path(location).expanduser().absolute()
        self._store: Store | None = None
        self._created_store = False

    @property
    def config(self) -> Config:
        """The loaded config; raises the ConfigError that loading it gave."""
        if self.config_or_none is None:
            assert self.config_error is not None
            raise self.config_error
        return self.config_or_none

    @property
    def store(self) -> Store:
        """The store, opened (created or migrated) on first use and kept in step with the config."""
        if self._store is None:
            if self.db_url is not None:
                reference = self.config_or_none.store_password if self.config_or_none else None
                self._store = open_store(self.db_url, password=resolve_secret(reference) if reference else None)
            else:
                assert isinstance(self.db_path, Path)
                self._created_store = not self.db_path.exists()
                self._store = open_store(self.db_path)
            integrations.register(self._store, self.config)
        return self._store

    @property
    def operator(self) -> str:
        """Who acts: SYNCVIEW_OPERATOR, else the config's ``[operator] name``, else the login name."""
        return actions.current_operator(self.config_or_none.operator if self.config_or_none else None)

    def integration_id(self, name: str | None) -> int | None:
        """The id of the integration the operator named; None when none was named."""
        return None if name is None else queries.get_integration(self.store, name).id

    def __enter__(self) -> App:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._store is None:
            return
        self._store.close()
        if self._created_store and _is_failure(exc):
            remove_sqlite_file(Path(self.db_path))


def _is_failure(exc: BaseException | None) -> bool:
    """Whether an exception ending a command means it failed (``--help`` and ``--version`` exit with 0)."""
    if exc is None:
        return False
    return not (isinstance(exc, Exit) and exc.exit_code == 0)


pass_app = click.make_pass_decorator(App)


# --- errors: one line each ---------------------------------------------------------------------

def error_line(message: str) -> str:
    """The one line a failure prints: secrets masked, whitespace runs folded, control characters escaped."""
    return _one_line("error", message)


def warning_line(message: str) -> str:
    """A warning, as one line on the same terms as :func:`error_line`."""
    return _one_line("warning", message)


def _one_line(level: str, message: str) -> str:
    return f"syncview: {level}: " + printable(" ".join(redact(message).split()))


class _WarningLines(logging.Handler):
    """Connectors' warnings (a retry, a skipped page) as ``syncview: warning:`` lines on stderr.

    Without it Python's last-resort handler prints them bare; with it they read like
    syncview's other warnings, secrets masked, and never as a traceback.
    """

    def emit(self, record: logging.LogRecord) -> None:
        try:
            click.echo(warning_line(record.getMessage()), err=True)
        except Exception:  # noqa: BLE001 - logging must never fail a command
            self.handleError(record)


def _show_warnings() -> None:
    logger = logging.getLogger("syncview")
    if not any(isinstance(h, _WarningLines) for h in logger.handlers):
        logger.addHandler(_WarningLines(logging.WARNING))  # also stops the last-resort handler printing them


def _fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    click.echo(error_line(message), err=True)
    sys.exit(code)


def _usage_message(error: click.UsageError) -> str:
    """Click's message plus where to look, e.g. "... (see `syncview resources --help`)"."""
    message = error.format_message()
    if error.ctx is not None:
        message += f" (see `{error.ctx.command_path} --help`)"
    return message


class SyncviewGroup(click.RichGroup):
    """The command group, with every failure turned into one line and an exit code.

    Done in ``main`` rather than around it so that ``CliRunner`` in the tests gets
    exactly what the console script gets.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:  # here, before rich-click turns it into exit status 1
            reader_gone()
        except signals.Terminated:  # no "^C" on the terminal to step past: no blank line as rich-click prints
            raise Abort() from None

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        _show_warnings()
        signals.stop_like_ctrl_c()  # SIGTERM and SIGHUP end every command as Ctrl-C does
        if not standalone_mode:  # a caller that handles click's exceptions itself
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except Abort:  # rich-click turns Ctrl-C (and SIGTERM, SIGHUP) into Abort
            by = signals.name(signals.received)
            _fail(f"interrupted ({by})" if by else "interrupted", EXIT_INTERRUPTED)
        except click.UsageError as error:
            _fail(_usage_message(error), EXIT_USAGE)
        except click.ClickException as error:
            _fail(error.format_message(), error.exit_code)
        except SyncviewError as error:
            _fail(str(error))
        except Exception as error:  # a bug: keep the operator's screen to one line, the details in a file
            _fail(f"unexpected {type(error).__name__}: {error} ({_crash_report()}); please report it")
        # ``code`` is an exit code after --help or --version, the command's return value (None) otherwise.
        sys.exit(code if isinstance(code, int) else 0)


def _crash_report() -> str:
    """Write the traceback to the user log dir; say where, or why not."""
    try:
        path = platformdirs.user_log_path("syncview") / "crash.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(f"--- {datetime.now().isoformat()} syncview {__version__}\n{redact(traceback.format_exc())}\n")
    except OSError as error:
        return f"no crash report written: {error.strerror or error}"
    return f"details in {path}"


# --- option parsing ------------------------------------------------------------------------------

def _when(_ctx, _param, value: str | None) -> datetime | None:
    try:
        return parse_when(value) if value else None
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


def _status(_ctx, _param, value: str | None) -> SyncStatus | None:
    try:
        return SyncStatus.parse(value) if value else None
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


def _type(_ctx, _param, value: str | None) -> ResourceType | None:
    try:
        return parse_resource_type(value) if value else None
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


def _why(kind):
    """A callback parsing --matched-on (kind MatchedOn) or --reason (kind ReasonKind)."""
    def parse(_ctx, param, value: str | None):
        if not value:
            return None
        try:
            found: MatchedOn | ReasonKind | None = parse_why(value)
        except ValueError:
            found = None
        if not isinstance(found, kind):
            choices = ", ".join(member.value for member in kind)
            raise click.BadParameter(f"unknown value {value!r}; expected one of {choices}")
        return found
    return parse


def _client_id(app: App, integration_id: int | None, name: str | None) -> int | None:
    """The local client the operator named (by name, any case, or id) among the integration's clients."""
    if name is None:
        return None
    if integration_id is None:
        raise click.UsageError("--client needs --integration: clients are listed per integration")
    clients = queries.integration_clients(app.store, integration_id)
    for client in clients:
        if client.name.casefold() == name.casefold() or str(client.id) == name:
            return client.id
    known = ", ".join(repr(c.name) for c in clients[:20])
    if len(clients) > 20:
        known += f" and {len(clients) - 20} more"
    raise click.BadParameter(f"no client {name!r} in this integration; its clients: {known or 'none'}",
                             param_hint="--client")


def _filter_options(command):
    """Options shared by ``resources`` and ``export``: what the table's filters select."""
    for option in reversed((
        click.option("--integration", "-i", help="Integration name (default: every integration)."),
        click.option("--client", "-c", help="Local client name or id (needs --integration)."),
        click.option("--filter", "-f", "text", default="", help="Part of the name, any case."),
        click.option("--type", "-t", "type_", callback=_type, help="client, site, device or contact."),
        click.option("--status", "-s", callback=_status, help="matched, not_synced or excluded."),
        click.option("--matched-on", callback=_why(MatchedOn),
                     help="How they matched: " + ", ".join(m.value for m in MatchedOn) + "."),
        click.option("--reason", callback=_why(ReasonKind),
                     help="Why they are not synced: " + ", ".join(r.value for r in ReasonKind) + "."),
    )):
        command = option(command)
    return command


def _resource_filter(app: App, integration, client, text, type_, status, matched_on=None,
                     reason=None) -> queries.ResourceFilter:
    if matched_on is not None and reason is not None:
        raise click.UsageError("give --matched-on or --reason, not both: a resource is either matched or not")
    integration_id = app.integration_id(integration)
    return queries.ResourceFilter(integration_id, _client_id(app, integration_id, client), text, type_, status,
                                  matched_on or reason)


_json = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
_expect = click.option("--expect-version", type=int,
                       help="Refuse if the resource's version is no longer this (as read by `resources --json`).")


# --- the group -----------------------------------------------------------------------------------

class _StoreLocation(click.ParamType):
    """--db: a database URL as given, or a store file checked as click.Path checks it."""

    name = "path|url"

    def convert(self, value, param, ctx):
        if is_store_url(value):
            return str(value)
        return click.Path(path_type=Path, dir_okay=False).convert(value, param, ctx)


@click.group(cls=SyncviewGroup, invoke_without_command=True,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", type=_StoreLocation(), envvar="SYNCVIEW_DB", metavar="PATH|URL",
              help=f"Store file (default: {default_store_path()}), or a PostgreSQL URL "
                   "(postgresql://user@host:port/db). Env: SYNCVIEW_DB.")
@click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False), envvar="SYNCVIEW_CONFIG",
              help=f"Config file (default: {default_config_path()}). Env: SYNCVIEW_CONFIG.")
@click.version_option(__version__, prog_name="syncview")
@click.pass_context
def cli(ctx: click.Context, db: str | None, config_path: Path | None) -> None:
    """See what each PSA/RMM integration synced into your documentation, and fix it."""
    app = ctx.obj = ctx.with_resource(App(db, config_path))
    # Once per run, on stderr (stdout may be JSON for a script); the doctor lists it with its findings.
    warning = warn_if_readable_by_others(app.config_or_none) if app.config_or_none else None
    if warning and ctx.invoked_subcommand != "doctor" and not ctx.resilient_parsing:
        click.echo(warning_line(warning), err=True)
    if ctx.invoked_subcommand is None:
        _start(ctx, app)


def _close_dead_runs(app: App) -> None:
    """Runs left "running" by a process that was killed (SIGKILL, a power cut) read as
    interrupted from the next look at the store, not only from the next sync."""
    store = app.store  # its own errors (config, a store that is not one) are the command's
    with contextlib.suppress(SyncviewError):  # a read-only store is shown as it is
        close_abandoned_runs(store)


def _start(ctx: click.Context, app: App) -> None:
    """Bare ``syncview``: on a first run seed the demo, then open the Sync Overview.

    Without a terminal (piped, cron, CI) there is no screen to open: print the status instead.
    """
    seeded = integrations.prepare_first_run(app.store, app.config)
    if seeded:
        out.print(f"First run: seeded the demo MSP ({seeded.resources:,} resources) into {app.store.path}")
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        ctx.invoke(status)
        return
    # Imported here so headless commands never pay for loading Textual.
    from syncview.tui.app import SyncviewApp

    _close_dead_runs(app)
    screen = SyncviewApp(app.store, app.config)
    screen.run()
    if screen.stopped_by is not None:  # SIGTERM or SIGHUP: the terminal is back, say why it closed
        _fail(f"interrupted ({signals.name(screen.stopped_by)})", EXIT_INTERRUPTED)


# --- commands ------------------------------------------------------------------------------------

@cli.command()
@click.option("--resources", "-n", type=click.IntRange(min=16), default=DEFAULT_RESOURCES, show_default=True,
              help="How many remote resources the demo integrations hold in all.")
@click.option("--seed", type=int, default=7, show_default=True, help="Random seed: the same seed, the same MSP.")
@pass_app
def demo(app: App, resources: int, seed: int) -> None:
    """Seed the store with the demo MSP (a PSA and an RMM integration, clients, records, sync history)."""
    summary = seed_demo(app.store, resources, seed=seed)
    out.print(f"Seeded {summary.resources:,} resources, {summary.records:,} records and {summary.clients:,} "
              f"clients over {summary.integrations} integrations into {app.store.path}")


@cli.command()
@_json
@pass_app
def status(app: App, as_json: bool) -> None:
    """Each integration's last run (outcome first), last success, and how its resources stand.

    ``--json`` gives per integration: ``last_outcome`` (success, partial, failed, running or
    null), ``last_run_at``, ``last_message``, ``last_synced_at`` (the end of the last
    successful run), ``total`` and ``by_type``/``by_status`` (live resources) and ``removed``
    (removed remotely, apart from them).
    """
    _close_dead_runs(app)
    rows = [(i, queries.integration_totals(app.store, i.id)) for i in queries.list_integrations(app.store)]
    if as_json:
        click.echo(dumps({"store": str(app.store.path), "integrations": [
            {**jsonable(i), "total": t.total, "by_type": t.by_type, "by_status": t.by_status, "removed": t.removed}
            for i, t in rows
        ]}))
        return
    if not rows:
        out.print(f"No integrations in {app.store.path} yet: configure one, or run `syncview demo`.")
        return
    out.print(f"Store: {app.store.path}")
    # Names and counts are never cut (counts have no space to wrap at); the words and headers wrap.
    table = Table(box=None, padding=(0, 1, 0, 1), pad_edge=False, collapse_padding=True)
    # The outcome, first, stays on one line ("Synced 27 min ago"). On a narrow terminal "Last
    # success" yields while it says the same as "Last run" on every row (each last run succeeded).
    success = out.width >= 100 or any(i.last_outcome != "success" for i, _ in rows)
    table.add_column("Integration", no_wrap=True)
    table.add_column("Last run", no_wrap=True)
    if success:
        table.add_column("Last success")
    for header in ("Total", *(s.label for s in SyncStatus), "Removed"):
        table.add_column(header, justify="right")
    for integration, totals in rows:
        outcome = Text(integration.last_run_words(), style=_OUTCOME_STYLES.get(integration.last_outcome or "", ""))
        table.add_row(Text(printable(integration.name)), outcome,
                      *([ago(integration.last_synced_at)] if success else []),
                      f"{totals.total:,}", *(f"{totals.by_status[s]:,}" for s in SyncStatus), f"{totals.removed:,}")
    out.print(table)
    for integration, _totals in rows:
        if integration.last_run_failed and integration.last_message:
            # Run messages name their integration already (sync.py); others get it in front.
            message = integration.last_message
            if integration.name not in message:
                message = f"{integration.name}: {message}"
            out.print(Text(printable(message), style="red"))


#: How ``status`` colours a last run's outcome (a failure must not read like a sync).
_OUTCOME_STYLES = {"failed": "bold red", "partial": "bold yellow"}


@cli.command()
@click.option("--integration", "-i", help="Integration name (default: all).")
@click.option("--since", callback=_when, help="From: 2026-11-01, 2026-11-01T09:00, today, yesterday, 24h, 7d...")
@click.option("--until", callback=_when, help="Up to (excluded), same forms as --since.")
@click.option("--level", type=click.Choice(queries.LEVELS), help="This level and worse.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many entries (newest first).")
@_json
@pass_app
def logs(app: App, integration, since, until, level, limit, as_json) -> None:
    """Sync log entries, newest first."""
    if since and until and since >= until:
        raise click.UsageError("--since must be before --until")
    entries = queries.log_entries(app.store, app.integration_id(integration), since=since, until=until,
                                  level=level, limit=limit)
    if as_json:
        click.echo(dumps(entries))
        return
    names = {i.id: i.name for i in queries.list_integrations(app.store)}
    table = Table("Time", "Integration", "Level", "Message", box=None)
    for entry in entries:
        style = {"error": "red", "warning": "yellow"}.get(entry.level, "")
        table.add_row(local(entry.time), Text(printable(names.get(entry.integration_id, "?"))),
                      Text(entry.level, style=style), Text(printable(entry.message)))
    out.print(table)


@cli.command()
@_filter_options
@click.option("--sort", type=click.Choice(list(columns.SORT_KEYS)), default="name", show_default=True)
@click.option("--desc", is_flag=True, help="Sort descending.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--offset", type=click.IntRange(min=0), default=0)
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON: {total, removed, offset, limit, resources}; total counts every row the filters "
                   "select, removed how many of them are removed remotely (status counts those apart).")
@pass_app
def resources(app: App, integration, client, text, type_, status, matched_on, reason, sort, desc, limit, offset,
              as_json) -> None:
    """List synced resources with the table's filters."""
    flt = _resource_filter(app, integration, client, text, type_, status, matched_on, reason)
    total = queries.count_resources(app.store, flt)
    removed = queries.count_removed(app.store, flt)
    rows = queries.resource_page(app.store, flt, offset=offset, limit=limit, sort=sort, descending=desc)
    if as_json:
        click.echo(dumps({"total": total, "removed": removed, "offset": offset, "limit": limit,
                          "resources": [resource_record(r) for r in rows]}))
        return
    same, table = resources_table(rows, out.width)
    if same:
        out.print(same)
    out.print(table)
    # In status's terms: "resources" are the live ones, the removed-remotely rows said apart.
    apart = f" ({total - removed:,} resources, {removed:,} removed remotely)" if removed else ""
    out.print(f"{len(rows)} shown of {total:,}{apart}")


def _shown(text: str) -> str:
    """A value from outside in the resources table: escaped, and cut as the screen cuts it (a
    100,000-character name would fill pages); --json and export keep it whole."""
    return printable(text, limit=SCREEN_LIMIT)


def resources_table(rows: list[queries.ResourceRow], width: int) -> tuple[str, Table]:
    """The rows as a table ``width`` cells wide: the id first (the CLI's actions take it), then
    the screen's columns; the name keeps the room, and on a narrow terminal a column that
    says the same on every row is said once (the line returned) instead."""
    id_width = max(len("Id"), *(len(str(row.id)) for row in rows)) if rows else len("Id")
    sized, yielded = columns.fit_rows(width - id_width - 1, rows, _shown, cell_len, yield_below=columns.YIELD_BELOW)
    name = max((c for c, _ in sized if c.width is None), key=lambda c: c.share, default=None)
    table = Table(box=None, padding=(0, 0, 0, 1), pad_edge=False)
    table.add_column("Id", width=id_width, no_wrap=True, justify="right")
    for column, size in sized:
        # A name longer than its room folds onto the next line, never cut: its end ("…-WS-01")
        # is what tells two rows apart. The other columns are cut.
        table.add_column(column.label, width=size, no_wrap=column is not name,
                         overflow="fold" if column is name else "ellipsis")
    for row in rows:
        table.add_row(str(row.id), *(Text(column.text(row, _shown)) for column, _ in sized))
    same = " · ".join(f"{columns.column(key).label} {text}" for key, text in yielded.items())
    return (f"Every row: {same}" if same else ""), table


@cli.command()
@click.argument("resource_id", type=int)
@click.option("--search", default="", help="Only records whose name contains this; rank by it.")
@click.option("--all-clients", is_flag=True, help="Look at every client's records, not only the resource's.")
@click.option("--limit", type=click.IntRange(min=1), default=10, show_default=True)
@_json
@pass_app
def candidates(app: App, resource_id, search, all_clients, limit, as_json) -> None:
    """Local records a resource could be re-matched to, best first."""
    found = matching.rematch_candidates(app.store, resource_id, search=search, all_clients=all_clients, limit=limit)
    if as_json:
        click.echo(dumps(found))
        return
    table = Table("Record", "Name", "Client", "Score", "Linked to", box=None)
    for c in found:
        table.add_row(str(c.record.id), Text(printable(c.record.name)), Text(printable(c.record.client_name or "—")),
                      f"{c.score:.0f}", Text(printable(c.linked_to[1])) if c.linked_to else "—")
    out.print(table)


def _report(app: App, result: actions.ActionResult, as_json: bool) -> None:
    """What an action did: its message, or with --json the result and the resources as they are now."""
    if as_json:
        rows = [queries.get_resource(app.store, rid) for rid in result.resource_ids]
        click.echo(dumps({**jsonable(result), "resources": [resource_record(r) for r in rows]}))
    else:
        out.print(Text(printable(result.message)))


@cli.command()
@click.argument("resource_id", type=int)
@click.argument("record_id", type=int)
@click.option("--disable-previous", is_flag=True, help="Disable the record the resource was linked to.")
@_expect
@_json
@pass_app
def rematch(app: App, resource_id, record_id, disable_previous, expect_version, as_json) -> None:
    """Re-match a resource to another local record of the same type (see `candidates`)."""
    _report(app, actions.rematch(app.store, resource_id, record_id, disable_previous=disable_previous,
                                 expected_version=expect_version, operator=app.operator), as_json)


@cli.command()
@click.argument("resource_id", type=int)
@click.option("--disable-record", is_flag=True, help="Also disable the record it was linked to.")
@_expect
@_json
@pass_app
def exclude(app: App, resource_id, disable_record, expect_version, as_json) -> None:
    """Exclude a resource: it is never synced again until included."""
    _report(app, actions.exclude(app.store, resource_id, disable_record=disable_record,
                                 expected_version=expect_version, operator=app.operator), as_json)


@cli.command()
@click.argument("resource_id", type=int)
@_expect
@_json
@pass_app
def include(app: App, resource_id, expect_version, as_json) -> None:
    """Include an excluded resource again (Not Synced until the next sync matches it)."""
    _report(app, actions.include(app.store, resource_id, expected_version=expect_version,
                                 operator=app.operator), as_json)


@cli.command()
@_json
@pass_app
def undo(app: App, as_json) -> None:
    """Undo your last action (re-match, exclude or include; a bulk action as a whole)."""
    _report(app, actions.undo(app.store, operator=app.operator), as_json)


@cli.command()
@_json
@pass_app
def redo(app: App, as_json) -> None:
    """Apply again what your last undo reverted (as long as you have not acted since)."""
    _report(app, actions.redo(app.store, operator=app.operator), as_json)


@cli.command()
@_filter_options
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), required=True)
@click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False, allow_dash=True), default="-",
              help="File to write (default: standard output).")
@pass_app
def export(app: App, integration, client, text, type_, status, matched_on, reason, fmt, output: Path) -> None:
    """Export resources (with the table's filters) to CSV or JSON; CSV cells are safe to open in a spreadsheet."""
    flt = _resource_filter(app, integration, client, text, type_, status, matched_on, reason)
    rows = queries.iter_resources(app.store, flt)
    write = write_csv if fmt == "csv" else write_json
    if str(output) == "-":
        write(rows, sys.stdout)
        return
    count = write_atomically(output, lambda handle: write(rows, handle))
    click.echo(f"Exported {count:,} resources to {output}", err=True)


@cli.command("config")
@click.option("--check", is_flag=True,
              help="Also resolve every secret reference (env:, keyring:, cmd:) to prove it works; "
                   "values are never shown.")
@_json
@pass_app
def config_command(app: App, check: bool, as_json: bool) -> None:
    """The config file in use, the store it points to and its integrations."""
    if check:
        for integration in app.config.integrations:
            resolve_settings(integration)  # SecretError names the integration, setting and reference
    described = {
        "config": str(app.config.path) if app.config.path else None,
        "store": str(app.db_path),
        "integrations": [
            {"name": i.name, "kind": i.kind, "enabled": i.enabled, "create_missing": i.create_missing,
             "settings": i.settings}  # secret settings hold references here, never values
            for i in app.config.integrations
        ],
    }
    if as_json:
        click.echo(dumps(described))
        return
    out.print(f"Config: {described['config'] or f'none (would be read from {default_config_path()})'}")
    out.print(f"Store:  {described['store']}")
    for i in app.config.integrations:
        state = "" if i.enabled else " (disabled)"
        out.print(Text(printable(f"- {i.name}: {i.kind}{state}")))
    if check:
        out.print("Every secret reference resolves.")


# --- commands defined in other modules -----------------------------------------------------------
# They receive the same context object (`App`) and raise SyncviewError like the ones above.
from syncview.cli_admin import backup_command, doctor_command, restore_command  # noqa: E402
from syncview.cli_team import replay_command  # noqa: E402
from syncview.cli_suggest import suggestions_command  # noqa: E402
from syncview.cli_sync import connectors_command, sync_command  # noqa: E402

cli.add_command(sync_command)
cli.add_command(connectors_command)
cli.add_command(doctor_command)
cli.add_command(backup_command)
cli.add_command(restore_command)
cli.add_command(suggestions_command)
cli.add_command(replay_command)


def main() -> None:
    """Console-script and ``python -m syncview`` entry point."""
    cli.main(prog_name="syncview")

