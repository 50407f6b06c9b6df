"""Run every benchmark of issue 5 and print one table: figure x size, target, met?, growth.

    .venv/bin/python benchmarks/run.py           # N = 1 000, 100 000 and 1 000 000
    .venv/bin/python benchmarks/run.py --quick   # N = 1 000 and 100 000 only

Each script runs in its own process (their own tables are shown as they finish); the
summary at the end takes their figures. "met?" judges the largest size measured; growth
is the figure at the largest size over the figure at 1 000, which for paging and
filtering must stay within 2x. Stores are seeded once into benchmarks/.cache/ (a
million resources take a minute or two the first time).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from common import QUICK_SIZES, SIZES, Stats, machine, print_table

HERE = Path(__file__).resolve().parent
SCRIPTS = ("tiles", "open", "filter", "scroll", "memory", "ingest")


def run(script: str, sizes: list[int]) -> dict[int, dict]:
    """Run ``script`` for ``sizes``, echoing its output; return its figures by size."""
    print(f"\n=== {script}.py", flush=True)
    figures: dict[int, dict] = {}
    command = [sys.executable, str(HERE / f"{script}.py"), "--sizes", ",".join(map(str, sizes)), "--json"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as child:
        for line in child.stdout:
            if line.startswith("FIGURES "):
                figures = {int(n): f for n, f in json.loads(line[len("FIGURES "):]).items()}
            else:
                print(line, end="", flush=True)
    if child.returncode:
        print(f"{script}.py failed (exit {child.returncode})", flush=True)
    return figures


#: (figure, script, its value in one size's figures, unit, target in that unit (seconds for ms and s),
#:  target is a maximum?, growth judged?)
FIGURES = [
    ("open: first rows, median", "open", lambda f: f["painted_median"], "s", 0.5, True, False),
    ("open: first rows, p95", "open", lambda f: f["painted_p95"], "s", 0.5, True, False),
    ("open: from source (no bytecode), median", "open", lambda f: f["source_median"], "s", None, True, False),
    ("filter: rows painted, median", "filter", lambda f: f["painted_median"], "ms", 0.050, True, True),
    ("filter: rows painted, p95", "filter", lambda f: f["painted_p95"], "ms", 0.050, True, True),
    ("filter: worst kind's p95 (text/type/status/client)", "filter",
     lambda f: max(Stats(tuple(f[k]["painted"])).p95 for k in ("text", "type", "status", "client")), "ms", 0.050,
     True, True),
    ("filter: count in, median", "filter", lambda f: f["counted_median"], "ms", None, True, True),
    ("tiles: totals + clients, median", "tiles", lambda f: f["both"]["median"], "ms", 0.050, True, False),
    ("scroll: page down, median", "scroll", lambda f: f["page down"]["median"], "ms", 0.016, True, True),
    ("scroll: page down, p95", "scroll", lambda f: f["page down"]["p95"], "ms", 0.016, True, True),
    ("scroll: end / home, median", "scroll", lambda f: f["end / home"]["median"], "ms", 0.016, True, True),
    ("scroll: end / home, p95", "scroll", lambda f: f["end / home"]["p95"], "ms", 0.016, True, True),
    ("memory: peak RSS", "memory", lambda f: f["end"], "MB", 150, True, False),
    ("ingest: initial sync", "ingest", lambda f: f["initial, empty store"], "/s", 200_000, False, False),
    ("ingest: unchanged re-sync", "ingest", lambda f: f["unchanged re-sync"], "/s", 200_000, False, False),
    ("ingest: raw sqlite3 executemany", "ingest", lambda f: f["raw sqlite3 executemany"], "/s", None, False, False),
    ("ingest: raw executemany, bare table", "ingest", lambda f: f["raw executemany, bare table"], "/s", None,
     False, False),
    ("ingest: initial / raw", "ingest", lambda f: f["initial, empty store"] / f["raw sqlite3 executemany"],
     "ratio", None, False, False),
    ("ingest: initial / raw bare", "ingest",
     lambda f: f["initial, empty store"] / f["raw executemany, bare table"], "ratio", None, False, False),
]


def show(value: float, unit: str) -> str:
    if unit == "ms":
        return f"{value * 1000:.1f} ms"
    if unit == "s":
        return f"{value:.2f} s"
    if unit == "/s":
        return f"{value:,.0f}/s"
    if unit == "ratio":
        return f"{value:.0%}"
    return f"{value:.0f} {unit}"


def summary(results: dict[str, dict[int, dict]], sizes: list[int]) -> None:
    largest, smallest = max(sizes), min(sizes)
    rows = []
    for label, script, read, unit, target, at_most, growth in FIGURES:
        values = {}
        for n in sizes:
            try:
                values[n] = read(results.get(script, {})[n])
            except (KeyError, TypeError):
                pass
        cells = [show(values[n], unit) if n in values else "—" for n in sizes]
        if target is None or largest not in values:
            wanted, met = "", ""
        else:
            wanted = f"{'≤' if at_most else '≥'} {show(target, unit)}"
            ok = values[largest] <= target if at_most else values[largest] >= target
            met = "yes" if ok else "NO"
        ratio = ""
        if growth and largest in values and values.get(smallest):
            ratio = f"{values[largest] / values[smallest]:.1f}x" + ("" if values[largest] <= 2 * values[smallest]
                                                                    else " NO")
        rows.append([label, *cells, wanted, met, ratio])
    print_table(["figure", *(f"{n:,}" for n in sizes), "target", "met?", f"{largest // 1000:,}k/{smallest // 1000:,}k"],
                rows, title=f"Summary ({machine()})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 000 and 100 000 resources only")
    parser.add_argument("--only", help="comma-separated scripts to run (default: all)")
    args = parser.parse_args()
    sizes = list(QUICK_SIZES if args.quick else SIZES)
    scripts = args.only.split(",") if args.only else SCRIPTS
    print(machine())
    results = {script: run(script, sizes) for script in scripts}
    summary(results, sizes)


if __name__ == "__main__":
    main()
