"""``syncview suggestions``: the re-matches syncview would propose, why, and which are safe to
accept unseen; ``--accept`` accepts those as one audited batch that one ``syncview undo`` reverts.

Like :mod:`syncview.cli_sync`, the main group attaches this command and this module never
imports it; it reads the group's context object (``App``). The proposals are the Suggested
view's (:mod:`syncview.services.proposals`): the screen and the CLI tick the same rows.
"""

from __future__ import annotations

from typing import Any

import rich_click as click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from syncview.render import dumps, jsonable
from syncview.safe_text import printable
from syncview.services import proposals, queries
from syncview.services.proposals import Proposal


def _item(integration: str, p: Proposal) -> dict[str, Any]:
    return {"integration": integration,
            "resource": {"id": p.resource_id, "name": p.resource_name, "type": p.type.value, "version": p.version,
                         "client": p.client_name},
            "record": {"id": p.record_id, "name": p.record_name, "client": p.record_client},
            "score": p.score, "reason": p.reason, "preselected": p.preselected}


@click.command("suggestions")
@click.option("--integration", "-i", help="Integration name (default: every integration).")
@click.option("--client", "-c", help="Local client name or id (needs --integration).")
@click.option("--accept", is_flag=True,
              help="Re-match every pre-selected suggestion, as one action that one `syncview undo` reverts.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: the suggestions, or with --accept what was done.")
@click.pass_obj
def suggestions_command(app: Any, integration: str | None, client: str | None, accept: bool, as_json: bool) -> None:
    """Not Synced resources with a close local record, best first, each with why it is (not) pre-selected.

    A record sharing an identity key (serial, MAC, e-mail, cross-reference) comes first, scored 100.
    Pre-selected means safe to accept unseen: the only free record with that key, or the same name
    once spelt the same way with numbers equal and the only such free record; enabled, and no
    stronger key disagreeing. The others need a look (the Suggested view, `a`).
    """
    from syncview.cli import _client_id  # the group's option helpers; imported late, as the group imports us

    integration_id = app.integration_id(integration)
    client_id = _client_id(app, integration_id, client)
    chosen = ([queries.get_integration(app.store, integration)] if integration is not None
              else queries.list_integrations(app.store))
    found = [(i.name, p) for i in chosen for p in proposals.suggestions(app.store, i.id, client_id=client_id)]
    console = Console(highlight=False, soft_wrap=True, markup=False)
    if accept:
        result = proposals.accept_preselected(app.store, [p for _, p in found], operator=app.operator)
        if as_json:
            click.echo(dumps({**jsonable(result.result), "changed": result.changed} if result else
                             {"batch": None, "action": "rematch", "message": "nothing accepted",
                              "resource_ids": [], "changed": 0}))
        elif result is None:
            console.print("No suggestion is pre-selected: nothing accepted. Review them with `syncview suggestions`.")
        else:
            console.print(Text(printable(f"{result.message} (one action: `syncview undo` reverts it)")))
        return
    if as_json:
        click.echo(dumps([_item(name, p) for name, p in found]))
        return
    table = Table("", "Score", "Resource", "→ Record", "Why", "Record's client", box=None)
    for name, p in found:
        table.add_row("✓" if p.preselected else "·", f"{p.score:.0f}", Text(printable(p.resource_name)),
                      Text(printable(p.record_name or "—")), Text(printable(p.reason)),
                      Text(printable(p.record_client or "—")))
    console.print(table)
    preselected = sum(p.preselected for _, p in found)
    console.print(f"{len(found):,} suggestions, {preselected:,} pre-selected (✓); "
                  "`syncview suggestions --accept` accepts the pre-selected ones.")
