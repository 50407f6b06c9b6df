"""Filter: from a keystroke (or a picker change) to the new result painted, and to its count.

    .venv/bin/python benchmarks/filter.py --sizes 1000,100000,1000000 [--rounds 2]

One headless ``SyncviewApp`` per size, switched to the integration with the most
resources (the worst case). Each round:

- types ``acme-ws`` into the filter box a key at a time, then deletes it with backspace;
- sets the type picker to each type and back to all, then the status picker, then the
  client picker to a few clients (by assigning ``Select.value``, which posts the same
  ``Select.Changed`` a keyboard choice does).

Each change is timed on its own (the next waits until the previous has settled) from the
key press or assignment to (1) the first row of the *new* result painted by
``ResourceTable.render_line`` (the old rows stay on screen meanwhile and do not count),
and (2) the ``ResourceTable.Counted`` message carrying its count. Target: ≤ 50 ms at 1M
for the repaint, median and p95.
"""

from __future__ import annotations

import asyncio

from common import (Stats, app_session, emit, largest_integration, machine, print_table, seeded_store,
                    size_arguments, timed_change)

TARGET_S = 0.050
TEXT = "acme-ws"


async def measure(path, rounds: int) -> dict[str, list[tuple[float, float]]]:
    from syncview.domain import ResourceType, SyncStatus
    from syncview.services import queries
    from syncview.tui.screens.overview import ALL
    from textual.widgets import Input, Select

    samples: dict[str, list[tuple[float, float]]] = {"text": [], "type": [], "status": [], "client": []}
    async with app_session(path) as session:
        await largest_integration(session)
        screen, pilot = session.app.screen, session.pilot
        clients = queries.integration_clients(session.app.store, screen.integration.id)
        totals = queries.integration_totals(session.app.store, screen.integration.id)
        pickers = {  # picker -> the values it is set to, one after the other
            # the types the picker offers: those the integration has resources of
            screen.query_one("#type", Select): [t.value for t in ResourceType if totals.by_type[t]],
            screen.query_one("#status-filter", Select): [s.value for s in SyncStatus],
            screen.query_one("#client", Select): [c.id for c in clients[:5]],
        }
        for _ in range(rounds):
            screen.query_one("#filter", Input).focus()
            await pilot.pause()
            for key in [*TEXT, *["backspace"] * len(TEXT)]:
                key = "minus" if key == "-" else key
                samples["text"].append(await timed_change(session, lambda k=key: pilot.press(k)))
            for (select, values), kind in zip(pickers.items(), ("type", "status", "client")):
                for value in [*values, ALL]:
                    samples[kind].append(await timed_change(session, lambda s=select, v=value: setattr(s, "value", v)))
    return samples


def main() -> None:
    parser = size_arguments(__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2, help="times through the changes (default %(default)s)")
    args = parser.parse_args()
    print(machine())
    rows, figures = [], {}
    for n in args.sizes:
        samples = asyncio.run(measure(seeded_store(n), args.rounds))
        every = [s for kind in samples.values() for s in kind]
        painted, counted = Stats(tuple(p for p, _ in every)), Stats(tuple(c for _, c in every))
        figures[n] = {"painted_median": painted.median, "painted_p95": painted.p95,
                      "counted_median": counted.median, "counted_p95": counted.p95}
        for kind, pairs in [*samples.items(), ("all changes", every)]:
            kind_painted, kind_counted = Stats(tuple(p for p, _ in pairs)), Stats(tuple(c for _, c in pairs))
            figures[n][kind] = {"painted": kind_painted.samples, "counted": kind_counted.samples}
            met = kind_painted.median <= TARGET_S and kind_painted.p95 <= TARGET_S
            rows.append([f"{n:,}", kind, len(pairs), kind_painted.ms(), kind_counted.ms(), "yes" if met else "NO"])
    print_table(["resources", "change", "n", "rows painted ms (median / p95)", "count in ms (median / p95)",
                 "≤ 50 ms?"], rows, title="Filter: change to the new result painted, and to its count")
    emit(figures, args.json)


if __name__ == "__main__":
    main()
