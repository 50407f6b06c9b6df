"""``syncview replay COPY``: the actions taken on an offline copy, brought back to the team store.

Like :mod:`syncview.cli_admin`, the main group attaches this command and this module never
imports it; it reads the group's context object (``App``) for the store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import rich_click as click
from click.exceptions import Exit
from rich.text import Text

from syncview.cli_output import console
from syncview.errors import StoreError
from syncview.render import dumps, jsonable
from syncview.safe_text import printable
from syncview.services.replay import Replayed, replay
from syncview.store.dialect import is_store_url, shown_url


def _line(item: Replayed) -> str:
    return f"{item.time.astimezone():%Y-%m-%d %H:%M} {item.operator}: {item.message}"


@click.command("replay")
@click.argument("copy")
@click.option("--json", "as_json", is_flag=True, help="Print what was applied and the conflicts as JSON.")
@click.pass_obj
def replay_command(app: Any, copy: str, as_json: bool) -> None:
    """Bring the actions taken on an offline COPY (made by `syncview backup`) back to this store.

    Each action the store has not seen yet is applied, oldest first, with the same check as any
    action: if a resource or record it changed was changed here since the copy was made, the
    action is listed as a conflict and nothing of it is applied. An action is never applied twice,
    so replaying the same copy again is safe. Exits 1 when there are conflicts.
    """
    if is_store_url(copy):
        raise StoreError(f"{shown_url(copy)} is a database; replay takes an offline copy file, the SQLite store "
                         "`syncview backup PATH` wrote")
    report = replay(app.store, Path(copy))
    if as_json:
        click.echo(dumps({"applied": [jsonable(a) for a in report.applied],
                          "conflicts": [jsonable(c) for c in report.conflicts], "already": report.already}))
    else:
        output = console()
        for item in report.applied:
            output.print(Text(printable(f"✓ {_line(item)}")))
        for item in report.conflicts:
            output.print(Text(printable(f"✗ {_line(item)} (not applied)")))
        conflicts = len(report.conflicts)
        output.print(f"{len(report.applied):,} action{'s' if len(report.applied) != 1 else ''} replayed, "
                     f"{conflicts:,} conflict{'s' if conflicts != 1 else ''}, "
                     f"{report.already:,} already in this store")
    if report.conflicts:
        raise Exit(1)
