"""The headless face of syncview: the same services as the screen, for scripts and SSH one-liners.

Every command exits 0 on success and 1 with one ``syncview: error: ...`` line on
failure; ``--json`` output is stable for scripts.
"""

from __future__ import annotations

import sys
import traceback
from datetime import datetime
from pathlib import Path
from typing import NoReturn

import rich_click as click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from syncview import __version__
from syncview.config import Config, load_config
from syncview.demo import DEFAULT_RESOURCES
from syncview.domain import ResourceType, SyncStatus, parse_resource_type
from syncview.errors import SyncviewError
from syncview.render import dumps, inert, jsonable, resource_record, write_csv, write_json
from syncview.services import actions, integrations, matching, queries
from syncview.services.seed import seed_demo
from syncview.store import Store, open_store
from syncview.store.db import default_store_path
from syncview.timeutil import ago, local, parse_when

click.rich_click.USE_RICH_MARKUP = True

out = Console(highlight=False, soft_wrap=True)


class App:
    """What every command needs: the config and, opened on first use, the store."""

    def __init__(self, db: Path | None, config_path: Path | None) -> None:
        self.config: Config = load_config(config_path)
        self.db_path = db or self.config.store_path or default_store_path()
        self._store: Store | None = None

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = open_store(self.db_path)
            integrations.register(self._store, self.config)
        return self._store

    def integration_id(self, name: str | None) -> int | None:
        return None if name is None else queries.get_integration(self.store, name).id


pass_app = click.make_pass_decorator(App)


def _fail(message: str) -> NoReturn:
    click.echo(f"syncview: error: {message}", err=True)
    sys.exit(1)


def _parse_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_when(value)
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


def _client_id(app: App, integration_id: int | None, name: str | None) -> int | None:
    if name is None:
        return None
    if integration_id is None:
        raise click.UsageError("--client needs --integration (clients are listed per integration)")
    clients = queries.integration_clients(app.store, integration_id)
    for client in clients:
        if client.name.casefold() == name.casefold() or str(client.id) == name:
            return client.id
    known = ", ".join(repr(c.name) for c in clients[:20])
    raise click.BadParameter(f"no client {name!r} in this integration; clients: {known}", param_hint="--client")


def _filter_options(command):
    """Options shared by ``resources`` and ``export``: what the table's filters select."""
    for option in reversed((
        click.option("--integration", "-i", help="Integration name (default: every integration)."),
        click.option("--client", "-c", help="Local client name or id (needs --integration)."),
        click.option("--filter", "-f", "text", default="", help="Part of the name, any case."),
        click.option("--type", "-t", "type_", callback=_type, help="client, site, device or contact."),
        click.option("--status", "-s", callback=_status, help="matched, not_synced or excluded."),
    )):
        command = option(command)
    return command


def _resource_filter(app: App, integration, client, text, type_, status) -> queries.ResourceFilter:
    integration_id = app.integration_id(integration)
    return queries.ResourceFilter(integration_id, _client_id(app, integration_id, client), text, type_, status)


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", type=click.Path(path_type=Path, dir_okay=False), envvar="SYNCVIEW_DB",
              help="Store file (default: the user data dir's syncview.db). Env: SYNCVIEW_DB.")
@click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False), envvar="SYNCVIEW_CONFIG",
              help="Config file (default: the user config dir's config.toml). Env: SYNCVIEW_CONFIG.")
@click.version_option(__version__, prog_name="syncview")
@click.pass_context
def cli(ctx: click.Context, db: Path | None, config_path: Path | None) -> None:
    """See what each PSA/RMM integration synced into your documentation, and fix it."""
    ctx.obj = App(db, config_path)
    if ctx.invoked_subcommand is None:
        app: App = ctx.obj
        seeded = integrations.prepare_first_run(app.store, app.config)
        if seeded:
            out.print(f"First run: seeded the demo MSP ({seeded.resources:,} resources) into {app.store.path}")
        ctx.invoke(status)


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
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def status(app: App, as_json: bool) -> None:
    """Each integration's last sync and how its resources stand."""
    rows = []
    for integration in queries.list_integrations(app.store):
        totals = queries.integration_totals(app.store, integration.id)
        rows.append((integration, totals))
    if as_json:
        click.echo(dumps({"store": str(app.store.path), "integrations": [
            {**jsonable(i), "total": t.total, "by_type": t.by_type, "by_status": t.by_status} for i, t in rows
        ]}))
        return
    if not rows:
        out.print(f"No integrations in {app.store.path} yet: configure one, or run `syncview demo`.")
        return
    table = Table(title=f"syncview — {app.store.path}", title_justify="left")
    for header in ("Integration", "Kind", "Last synced", "Total", *(s.label for s in SyncStatus)):
        table.add_column(header, justify="right" if header not in ("Integration", "Kind", "Last synced") else "left")
    for integration, totals in rows:
        table.add_row(
            Text(integration.name), integration.kind,
            f"{ago(integration.last_synced_at)} ({local(integration.last_synced_at)})",
            f"{totals.total:,}", *(f"{totals.by_status[s]:,}" for s in SyncStatus),
        )
    out.print(table)


@cli.command()
@click.option("--integration", "-i", help="Integration name (default: all).")
@click.option("--since", help="From: 2026-11-01, 2026-11-01T09:00, today, yesterday, 24h, 7d...")
@click.option("--until", help="Up to (excluded), same forms as --since.")
@click.option("--level", type=click.Choice(queries.LEVELS), help="This level and worse.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many entries (newest first).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def logs(app: App, integration, since, until, level, limit, as_json) -> None:
    """Sync log entries, newest first."""
    since_t, until_t = _parse_time(since), _parse_time(until)
    if since_t and until_t and since_t >= until_t:
        raise click.BadParameter("--since must be before --until", param_hint="--since")
    entries = queries.log_entries(app.store, app.integration_id(integration), since=since_t, until=until_t,
                                  level=level, limit=limit)
    if as_json:
        click.echo(dumps(entries))
        return
    names = {i.id: i.name for i in queries.list_integrations(app.store)}
    table = Table("Time", "Integration", "Level", "Message", box=None)
    for entry in entries:
        style = {"error": "red", "warning": "yellow"}.get(entry.level, "")
        table.add_row(local(entry.time), names.get(entry.integration_id, "?"),
                      Text(entry.level, style=style), Text(inert(entry.message)))
    out.print(table)


@cli.command()
@_filter_options
@click.option("--sort", type=click.Choice(list(queries.SORT_KEYS)), default="name", show_default=True)
@click.option("--desc", is_flag=True, help="Sort descending.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--offset", type=click.IntRange(min=0), default=0)
@click.option("--json", "as_json", is_flag=True, help="Print JSON: {total, resources}.")
@pass_app
def resources(app: App, integration, client, text, type_, status, sort, desc, limit, offset, as_json) -> None:
    """List synced resources with the table's filters."""
    flt = _resource_filter(app, integration, client, text, type_, status)
    total = queries.count_resources(app.store, flt)
    rows = queries.resource_page(app.store, flt, offset=offset, limit=limit, sort=sort, descending=desc)
    if as_json:
        click.echo(dumps({"total": total, "offset": offset, "resources": [resource_record(r) for r in rows]}))
        return
    table = Table("Id", "Name", "Type", "Status", "Local record", "Remote company", "Last seen", box=None)
    for row in rows:
        table.add_row(str(row.id), Text(inert(row.name)), row.type.label, row.status.label,
                      Text(inert(row.record_name or "—")), Text(inert(row.remote_company or "—")), ago(row.last_seen))
    out.print(table)
    out.print(f"{len(rows)} shown of {total:,}")


@cli.command()
@click.argument("resource_id", type=int)
@click.option("--search", default="", help="Only records whose name contains this; rank by it.")
@click.option("--all-clients", is_flag=True, help="Look at every client's records, not only the resource's.")
@click.option("--limit", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def candidates(app: App, resource_id, search, all_clients, limit, as_json) -> None:
    """Local records a resource could be re-matched to, best first."""
    found = matching.rematch_candidates(app.store, resource_id, search=search, all_clients=all_clients, limit=limit)
    if as_json:
        click.echo(dumps(found))
        return
    table = Table("Record", "Name", "Client", "Score", "Linked to", box=None)
    for c in found:
        table.add_row(str(c.record.id), Text(inert(c.record.name)), Text(inert(c.record.client_name or "—")),
                      f"{c.score:.0f}", Text(inert(c.linked_to[1])) if c.linked_to else "—")
    out.print(table)


def _report(app: App, result: actions.ActionResult, as_json: bool) -> None:
    if as_json:
        rows = [queries.get_resource(app.store, rid) for rid in result.resource_ids]
        click.echo(dumps({**jsonable(result), "resources": [resource_record(r) for r in rows]}))
    else:
        out.print(Text(inert(result.message)))


_expect = click.option("--expect-version", type=int,
                       help="Refuse if the resource's version is no longer this (as read by `resources --json`).")
_json = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@cli.command()
@click.argument("resource_id", type=int)
@click.argument("record_id", type=int)
@click.option("--disable-previous", is_flag=True, help="Disable the record the resource was linked to.")
@_expect
@_json
@pass_app
def rematch(app: App, resource_id, record_id, disable_previous, expect_version, as_json) -> None:
    """Re-match a resource to another local record of the same type."""
    _report(app, actions.rematch(app.store, resource_id, record_id, disable_previous=disable_previous,
                                 expected_version=expect_version), as_json)


@cli.command()
@click.argument("resource_id", type=int)
@click.option("--disable-record", is_flag=True, help="Also disable the record it was linked to.")
@_expect
@_json
@pass_app
def exclude(app: App, resource_id, disable_record, expect_version, as_json) -> None:
    """Exclude a resource: it is never synced again until included."""
    _report(app, actions.exclude(app.store, resource_id, disable_record=disable_record,
                                 expected_version=expect_version), as_json)


@cli.command()
@click.argument("resource_id", type=int)
@_expect
@_json
@pass_app
def include(app: App, resource_id, expect_version, as_json) -> None:
    """Include an excluded resource again."""
    _report(app, actions.include(app.store, resource_id, expected_version=expect_version), as_json)


@cli.command()
@_json
@pass_app
def undo(app: App, as_json) -> None:
    """Undo your last action (re-match, exclude or include)."""
    _report(app, actions.undo(app.store), as_json)


@cli.command()
@_filter_options
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), required=True)
@click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False, allow_dash=True), default="-",
              help="File to write (default: standard output).")
@pass_app
def export(app: App, integration, client, text, type_, status, fmt, output: Path) -> None:
    """Export resources (with the table's filters) to CSV or JSON."""
    flt = _resource_filter(app, integration, client, text, type_, status)
    rows = queries.iter_resources(app.store, flt)
    write = write_csv if fmt == "csv" else write_json
    if str(output) == "-":
        write(rows, sys.stdout)
        return
    # Write beside the target and rename, so a failure never leaves half a file under its name.
    partial = output.with_name(output.name + ".partial")
    try:
        with partial.open("w", newline="", encoding="utf-8") as handle:
            count = write(rows, handle)
        partial.replace(output)
    except OSError as error:
        partial.unlink(missing_ok=True)
        _fail(f"cannot write {output}: {error.strerror}")
    click.echo(f"Exported {count:,} resources to {output}", err=True)


def main() -> None:
    """Console-script entry point: run the CLI, turning known errors into one line and exit 1."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("syncview: aborted", err=True)
        sys.exit(130)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except SyncviewError as error:
        _fail(str(error))
    except KeyboardInterrupt:
        click.echo("syncview: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as error:  # a bug: keep the operator's screen to one line, the details in a file
        _fail(f"unexpected {type(error).__name__}: {error} (details in {_crash_report()}); please report it")


def _crash_report() -> Path:
    import platformdirs

    path = platformdirs.user_log_path("syncview") / "crash.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(f"--- {datetime.now().isoformat()} syncview {__version__}\n{traceback.format_exc()}\n")
    return path
