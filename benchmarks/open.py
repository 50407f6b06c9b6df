"""Open: from process start to the first painted rows of the Sync Status table.

    .venv/bin/python benchmarks/open.py --sizes 1000,100000,1000000 [--runs 5]

Each measurement is a fresh ``python`` process (so interpreter start-up and every
import count) that runs ``SyncviewApp`` headless (``App.run_test``) on a cached demo
store and stops at the first ``ResourceTable.render_line`` that paints a real row. The
parent stamps the system-wide monotonic clock just before starting the child; the
child stamps it at its milestones (imports done, store open, first row painted, count
arrived). Target: first rows within 0.5 s at 1M.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
from pathlib import Path

from common import Stats, app_session, emit, machine, now, print_table, seeded_store, size_arguments

TARGET_S = 0.5


def child(path: Path) -> None:
    """In the measured process: open the app, report when each milestone happened."""
    marks = {"imported": 0.0}
    import syncview.tui.app  # noqa: F401  (the app's imports, timed as the real start-up does them)

    marks["imported"] = now()

    async def run() -> None:
        async with app_session(path) as session:
            marks["painted"] = session.probe.first_row(0)
            marks["counted"] = session.counts[0][0]

    asyncio.run(run())
    print(json.dumps(marks), flush=True)


def measure(path: Path) -> dict[str, float]:
    """One fresh process: seconds from its start to each milestone."""
    began = now()
    done = subprocess.run([sys.executable, __file__, "--child", str(path)],
                          capture_output=True, text=True, check=True)
    marks = json.loads(done.stdout.strip().splitlines()[-1])
    return {name: when - began for name, when in marks.items()}


def main() -> None:
    parser = size_arguments(__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="processes per size (default %(default)s)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    print(machine())
    rows, figures = [], {}
    for n in args.sizes:
        path = seeded_store(n)
        measure(path)  # warm the page cache of the OS, like a second start would be
        runs = [measure(path) for _ in range(args.runs)]
        painted = Stats(tuple(r["painted"] for r in runs))
        figures[n] = {"painted_median": painted.median, "painted_p95": painted.p95,
                      "imported_median": Stats(tuple(r["imported"] for r in runs)).median,
                      "counted_median": Stats(tuple(r["counted"] for r in runs)).median}
        rows.append([f"{n:,}", f"{figures[n]['imported_median']:.3f}", painted.ms(),
                     f"{figures[n]['counted_median']:.3f}",
                     "yes" if painted.median <= TARGET_S else "NO"])
    print_table(["resources", "imports done s", "first rows ms (median / p95)", "count in s", "≤ 0.5 s?"],
                rows, title=f"Open: process start to first painted rows ({args.runs} processes per size)")
    emit(figures, args.json)


if __name__ == "__main__":
    main()
