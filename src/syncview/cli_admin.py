"""``syncview doctor``, ``syncview backup`` and ``syncview restore``: looking after the store and the setup.

Like :mod:`syncview.cli_sync`, the main group attaches these commands and this module
never imports it. The commands read the group's context object (``App``) for the
config and the store's path, and never open the store through it: the doctor must
not create or migrate a store it is inspecting, and backup and restore work on the
file with SQLite's backup API (:mod:`syncview.services.backup`). Failures are raised
as :class:`~syncview.errors.SyncviewError`, which the group prints as one line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import rich_click as click
from click.exceptions import Exit
from rich.text import Text

from syncview.cli_output import console
from syncview.render import dumps
from syncview.safe_text import printable
from syncview.services.backup import backup_store, before_restore_path, copy_to_sqlite, restore_into, restore_store
from syncview.services.doctor import run_checks


def _size(size: int) -> str:
    return f"{size / 2**20:.1f} MB" if size >= 2**20 else f"{size / 2**10:.0f} KB"


@click.command("doctor")
@click.option("--offline", is_flag=True, help="Skip the connectivity checks (no network requests).")
@click.option("--json", "as_json", is_flag=True, help="Print every check as JSON.")
@click.pass_obj
def doctor_command(app: Any, offline: bool, as_json: bool) -> None:
    """Check the config, the secrets, the store and each integration's connection; say what to fix.

    Prints one line per problem and exits 1 if there is any, 0 when everything is healthy.
    Secret values are resolved to prove they work, never shown. The store is only read.
    """
    findings = run_checks(app.config_or_none, app.config_error, app.db_url or app.db_path, connectivity=not offline)
    problems = [f for f in findings if not f.ok]
    if as_json:
        click.echo(dumps({"ok": not problems, "store": str(app.db_path),
                          "checks": [{"area": f.area, "subject": f.subject, "ok": f.ok, "message": f.message}
                                     for f in findings]}))
    else:
        output = console()
        for finding in problems:
            output.print(Text(printable(f"✗ {finding.line()}")))
        summary = (f"{len(findings)} checks passed" if not problems
                   else f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in {len(findings)} checks")
        output.print(summary)
    if problems:
        raise Exit(1)


@click.command("backup")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--force", is_flag=True, help="Overwrite PATH if it exists.")
@click.pass_obj
def backup_command(app: Any, path: Path, force: bool) -> None:
    """Write a consistent copy of the store to PATH, even while a sync or the screen is using it.

    The copy is one self-contained SQLite store file, from either kind of store: an SQLite store
    through SQLite's online backup API, a PostgreSQL store table by table from one snapshot (to
    review offline with `syncview --db PATH`, and bring its actions back with `syncview replay`).
    It is written beside PATH and renamed when complete and checked, so PATH is never half a backup.
    """
    if app.db_url is not None:
        facts = copy_to_sqlite(app.store, path.expanduser(), force=force)
        console().print(Text(printable(
            f"Backed up the PostgreSQL store {app.db_path} to the SQLite store {facts.path} ({_size(facts.size)}, "
            f"{facts.resources:,} resources, schema {facts.schema_version}); review it offline with "
            f"`syncview --db {facts.path}` and bring its actions back with `syncview replay {facts.path}`")))
        return
    facts = backup_store(app.db_path, path.expanduser(), force=force)
    console().print(Text(printable(f"Backed up {app.db_path} to {facts.path} "
                                    f"({_size(facts.size)}, {facts.resources:,} resources, schema {facts.schema_version})")))


@click.command("restore")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@click.pass_obj
def restore_command(app: Any, path: Path) -> None:
    """Replace the store with the backup at PATH; the current store is kept as <store>.before-restore.bak.

    The backup must be a syncview store of a schema this syncview reads. The replacement is one
    transaction: other syncview processes see the old store or the restored one, never a mix.
    A PostgreSQL store gets the backup's rows in one transaction, its previous rows kept first as
    an SQLite store in the user data directory (the line says where).
    """
    if app.db_url is not None:
        previous = before_restore_path(str(app.db_path))
        report = restore_into(app.store, path.expanduser(), previous)
        console().print(Text(printable(
            f"Restored {report.restored.resources:,} resources from {path} into the PostgreSQL store {app.db_path} "
            f"(one transaction); its previous contents are saved as the SQLite store {previous}")))
        return
    report = restore_store(app.db_path, path.expanduser())
    line = (f"Restored {report.restored.resources:,} resources from {path} into {app.db_path}")
    if report.previous is not None:
        line += f"; the previous store is saved as {report.previous}"
    console().print(Text(printable(line)))

