"""Scroll: from a page-down or jump key to a repaint of the table with real rows only.

    .venv/bin/python benchmarks/scroll.py --sizes 1000,100000,1000000 [--pages 20 --jumps 5]

One headless ``SyncviewApp`` per size, on the integration with the most resources. The
table has the focus; the script presses ``pagedown`` up to ``--pages`` times, then
``G`` (end) and ``g`` (home) ``--jumps`` times each. Each key is timed from the press to
the moment every data line of the table at its new scroll position has been painted by
``ResourceTable.render_line`` as a real row (a placeholder "…" painted after that, while
a page is still coming, restarts the wait). Target: ≤ 16 ms per repaint.
"""

from __future__ import annotations

import asyncio

from common import (Stats, app_session, emit, largest_integration, machine, now, print_table, seeded_store,
                    size_arguments, wait_for)

TARGET_S = 0.016


async def press_and_wait(session, key: str) -> float:
    """Seconds from pressing ``key`` to a frame of real rows at the table's new position."""
    table, probe = session.table, session.probe
    before, mark = int(table.scroll_y), probe.mark()
    began = now()
    await session.pilot.press(key)
    await wait_for(lambda: int(table.scroll_y) != before, timeout=5, what=f"{key} to scroll")
    painted = await wait_for(lambda: probe.full_frame(mark, session.rows_in_view(), scroll_y=int(table.scroll_y)),
                             what=f"a full frame after {key}")
    await session.pilot.pause()
    return painted - began


async def measure(path, pages: int, jumps: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {"page down": [], "end / home": []}
    async with app_session(path) as session:
        await largest_integration(session)
        table = session.table
        table.focus()
        await session.pilot.pause()
        view = session.rows_in_view()
        for _ in range(min(pages, (table.total or 0) // view - 2)):
            samples["page down"].append(await press_and_wait(session, "pagedown"))
        for _ in range(jumps):
            samples["end / home"].append(await press_and_wait(session, "G"))
            samples["end / home"].append(await press_and_wait(session, "g"))
    return samples


def main() -> None:
    parser = size_arguments(__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=20, help="page-downs (default %(default)s)")
    parser.add_argument("--jumps", type=int, default=5, help="end/home pairs (default %(default)s)")
    args = parser.parse_args()
    print(machine())
    rows, figures = [], {}
    for n in args.sizes:
        samples = asyncio.run(measure(seeded_store(n), args.pages, args.jumps))
        figures[n] = {}
        for kind, times in [*samples.items(), ("all", [t for ts in samples.values() for t in ts])]:
            stats = Stats(tuple(times))
            figures[n][kind] = {"median": stats.median, "p95": stats.p95}
            met = stats.median <= TARGET_S and stats.p95 <= TARGET_S
            rows.append([f"{n:,}", kind, len(times), stats.ms(), "yes" if met else "NO"])
    print_table(["resources", "key", "n", "repaint ms (median / p95)", "≤ 16 ms?"], rows,
                title="Scroll: key to a frame of real rows")
    emit(figures, args.json)


if __name__ == "__main__":
    main()
