"""Memory: peak resident set size of the app opened on a store, filtered and scrolled to the end.

    .venv/bin/python benchmarks/memory.py --sizes 1000,1000000

Each size runs in a fresh process: ``SyncviewApp`` headless on a cached demo store,
switched to the integration with the most resources, the filter typed (``acme``) and
cleared, the type picker set and reset, then the table jumped to its end and back.
The child reports ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (the peak, KiB on Linux)
after the imports and at the end. Target: ≤ 150 MB at 1M.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
from pathlib import Path

from common import (app_session, emit, largest_integration, machine, print_table, seeded_store, size_arguments,
                    timed_change)

TARGET_MB = 150


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(path: Path) -> None:
    """In the measured process: the operator's session, then the peaks."""
    import syncview.tui.app  # noqa: F401

    peaks = {"imports": peak_mb()}

    async def run() -> None:
        from textual.widgets import Input, Select

        async with app_session(path) as session:
            peaks["opened"] = peak_mb()
            await largest_integration(session)
            screen, pilot = session.app.screen, session.pilot
            screen.query_one("#filter", Input).focus()
            for key in ["a", "c", "m", "e", "ctrl+u"]:
                await timed_change(session, lambda k=key: pilot.press(k))
            type_picker = screen.query_one("#type", Select)
            await timed_change(session, lambda: setattr(type_picker, "value", "device"))
            await timed_change(session, lambda: setattr(type_picker, "value", "all"))
            session.table.focus()
            for key in ["G", "g", "G"]:
                await pilot.press(key)
                await pilot.pause(0.3)

    asyncio.run(run())
    peaks["end"] = peak_mb()
    print(json.dumps(peaks), flush=True)


def main() -> None:
    parser = size_arguments(__doc__.split("\n\n")[0], default=(1_000, 1_000_000))
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    print(machine())
    rows, figures = [], {}
    for n in args.sizes:
        done = subprocess.run([sys.executable, __file__, "--child", str(seeded_store(n))],
                              capture_output=True, text=True, check=True)
        peaks = json.loads(done.stdout.strip().splitlines()[-1])
        figures[n] = peaks
        rows.append([f"{n:,}", f"{peaks['imports']:.0f}", f"{peaks['opened']:.0f}", f"{peaks['end']:.0f}",
                     "yes" if peaks["end"] <= TARGET_MB else "NO"])
    print_table(["resources", "after imports MB", "after open MB", "peak MB", "≤ 150 MB?"], rows,
                title="Memory: peak RSS (ru_maxrss) of the app: open, filter, scroll to the end")
    emit(figures, args.json)


if __name__ == "__main__":
    main()
