"""Open: from process start to the first painted rows of the Sync Status table.

    .venv/bin/python benchmarks/open.py --sizes 1000,100000,1000000 [--runs 7]

Two measures, each in fresh processes on a cached demo store:

- **real** (the figure judged against the target): the ``syncview --db STORE`` command
  itself (``python -m syncview``), on a pseudo-terminal of 120x40 with an empty home
  directory (no user config), exactly as an operator starts it over SSH, with its modules
  byte-compiled as an installed package has them (pip compiles on install; the bytecode
  goes to ``benchmarks/.cache/pycache`` through ``PYTHONPYCACHEPREFIX``, written by the
  warm-up run, so neither the checkout nor the venv is touched). The clock runs
  from just before the process is spawned until the name of the table's first row (the
  first resource by name of the first integration) appears in what the app wrote to the
  terminal: CLI start-up, every import, config lookup, store open, Textual start-up,
  the reads and the first frame with real rows. Then ``q`` quits it.
- **headless**: a child that imports ``syncview.tui.app`` and runs ``SyncviewApp`` with
  ``App.run_test`` until ``ResourceTable.render_line`` paints a real row; it stamps the
  system-wide monotonic clock when its imports are done, at the first row and when the
  count arrived, so the real figure can be split into imports and app start.
- **real, from source**: the real command again with the environment as it is; in a
  checkout run with ``PYTHONDONTWRITEBYTECODE=1`` (as this project's sessions are) every
  start compiles syncview's sources again, which an installed syncview never does.

Target: first rows within 0.5 s at 1M.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import json
import os
import pty
import select
import struct
import subprocess
import sys
import tempfile
import termios
from pathlib import Path

from common import SCREEN, Stats, app_session, emit, machine, now, print_table, seeded_store, size_arguments

TARGET_S = 0.5
BYTECODE = Path(__file__).resolve().parent / ".cache" / "pycache"


def installed_env() -> dict[str, str]:
    """The environment of an installed syncview: bytecode kept (under BYTECODE) and used."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(BYTECODE)
    return env


def child(path: Path) -> None:
    """In the measured headless process: open the app, report when each milestone happened."""
    marks = {"imported": 0.0}
    import syncview.tui.app  # noqa: F401  (the app's imports, timed as the real start-up does them)

    marks["imported"] = now()

    async def run() -> None:
        async with app_session(path) as session:
            marks["painted"] = session.probe.first_row(0)
            marks["counted"] = session.counts[0][0]

    asyncio.run(run())
    print(json.dumps(marks), flush=True)


def headless(path: Path) -> dict[str, float]:
    """One fresh headless process (bytecode as installed): seconds from its start to each milestone."""
    began = now()
    done = subprocess.run([sys.executable, __file__, "--child", str(path)],
                          capture_output=True, text=True, check=True, env=installed_env())
    marks = json.loads(done.stdout.strip().splitlines()[-1])
    return {name: when - began for name, when in marks.items()}


def first_row_name(path: Path) -> str:
    """What the first row of the opening screen shows: the first resource by name of the first integration."""
    from syncview.services import queries
    from syncview.store import open_store

    store = open_store(path)
    try:
        integration = queries.list_integrations(store)[0].id
        return queries.resource_page(store, queries.ResourceFilter(integration), limit=1)[0].name
    finally:
        store.close()


def _drain(master: int, timeout: float) -> bytes:
    ready, _, _ = select.select([master], [], [], timeout)
    if not ready:
        return b""
    try:
        return os.read(master, 1 << 16)
    except OSError:  # the child closed the terminal
        return b""


def real(path: Path, text: str, home: str, *, bytecode: bool = True, timeout: float = 30.0) -> float:
    """Seconds from spawning ``syncview --db path`` on a terminal to ``text`` appearing on it."""
    env = {**(installed_env() if bytecode else os.environ), "HOME": home, "XDG_CONFIG_HOME": home,
           "XDG_DATA_HOME": home, "TERM": "xterm-256color"}
    for name in ("SYNCVIEW_CONFIG", "SYNCVIEW_DB", "TEXTUAL", "TEXTUAL_DEVTOOLS"):
        env.pop(name, None)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", SCREEN[1], SCREEN[0], 0, 0))
    wanted, seen, shown = text.encode(), b"", None
    began = now()
    process = subprocess.Popen([sys.executable, "-m", "syncview", "--db", str(path)], stdin=slave, stdout=slave,
                               stderr=slave, env=env, start_new_session=True)
    os.close(slave)
    try:
        while shown is None and now() - began < timeout and process.poll() is None:
            seen += _drain(master, 0.01)
            if wanted in seen:
                shown = now() - began
        os.write(master, b"q")
        quit_by = now() + 10
        while process.poll() is None and now() < quit_by:
            _drain(master, 0.05)  # keep reading, or the app blocks writing its last frames
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        os.close(master)
    if shown is None:
        tail = seen[-400:].decode(errors="replace")
        raise RuntimeError(f"syncview never showed {text!r} within {timeout:g} s; it wrote ...{tail!r}")
    return shown


def main() -> None:
    parser = size_arguments(__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="processes per size and measure (default %(default)s)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    print(machine())
    rows, figures = [], {}
    with tempfile.TemporaryDirectory() as home:
        for n in args.sizes:
            path = seeded_store(n)
            # The first row's name as the table cuts it (the Name column is ~34 cells at 120 columns).
            text = first_row_name(path)[:24]
            real(path, text, home)  # warm the OS page cache (and write the bytecode), like any second start
            painted = Stats(tuple(real(path, text, home) for _ in range(args.runs)))
            source = Stats(tuple(real(path, text, home, bytecode=False) for _ in range(args.runs)))
            runs = [headless(path) for _ in range(args.runs)]
            inner = Stats(tuple(r["painted"] for r in runs))
            figures[n] = {"painted_median": painted.median, "painted_p95": painted.p95,
                          "source_median": source.median, "source_p95": source.p95,
                          "headless_median": inner.median, "headless_p95": inner.p95,
                          "imported_median": Stats(tuple(r["imported"] for r in runs)).median,
                          "counted_median": Stats(tuple(r["counted"] for r in runs)).median}
            rows.append([f"{n:,}", painted.ms(), source.ms(), inner.ms(),
                         f"{figures[n]['imported_median'] * 1000:.0f}",
                         f"{figures[n]['counted_median'] * 1000:.0f}",
                         "yes" if painted.median <= TARGET_S else "NO"])
    print_table(["resources", "syncview: first rows ms (median / p95)", "from source ms", "headless: first rows ms",
                 "headless: imports done ms", "headless: count in ms", "≤ 0.5 s?"],
                rows, title=f"Open: process start to first painted rows ({args.runs} processes per size and measure)")
    emit(figures, args.json)


if __name__ == "__main__":
    main()
