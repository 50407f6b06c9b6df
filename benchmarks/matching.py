"""How well and how fast a sync matches: precision and recall of automatic links on a
generated estate with known truth (benchmarks/world.py), and the time of its syncs.

    .venv/bin/python benchmarks/matching.py                       # 20 000 resources, both engines
    .venv/bin/python benchmarks/matching.py --timing 1000000      # and the time of 1M resources
    .venv/bin/python benchmarks/matching.py --before none         # this engine only

The world is one MSP estate seen by a PSA, whose sync creates the local records
(``create_missing``), and an RMM whose items must link to them; every RMM item's truth is the
record of the PSA item of the same thing, or none (a replaced machine, a new one, a name that
differs by a digit). The figures:

- precision: of the RMM items the sync linked to an existing record, the share linked to the
  right one (target 100 %: no false link, ever);
- recall: of the RMM items whose record exists, the share linked to it (target ≥ 95 %);
- pre-selected suggestions: precision of the pairs the suggestions would pre-select, when the
  engine has them (:func:`preselected`; "n/a" until then);
- time: the PSA sync and the RMM sync of the same world (target: within 2x of the name-only
  engine on 1M resources).

"Before" is the engine of ``--before REV`` (default 4ef9cb6, the last name-only engine),
extracted with ``git archive`` into a temporary directory and run in a child process on the
same world: both engines read the same RemoteItems (the old one ignores their keys).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import machine  # noqa: E402
from world import NAMES, PSA, RMM, WorldConnector, generate, prepare, score  # noqa: E402

from syncview.services.sync import sync_connector  # noqa: E402
from syncview.store import open_store  # noqa: E402

#: The last commit whose engine links on the normalised name alone.
NAME_ONLY = "4ef9cb6"


def preselected(store, integration_id: int) -> list[tuple[int, int]] | None:
    """(resource id, record id) pairs the suggestions pre-select for an integration, or None
    when this engine does not pre-select (issue 11 item 5: proposals that carry ``preselected``,
    in ``services.proposals`` since the suggest branch, ``services.bulk`` before)."""
    import dataclasses
    import importlib

    for module in ("syncview.services.proposals", "syncview.services.bulk"):
        try:
            found = importlib.import_module(module)
        except ImportError:
            continue
        if getattr(found, "suggestions", None) is not None:
            break
    else:
        return None
    suggest = getattr(found, "suggestions", None)
    proposal = getattr(found, "Proposal", None)
    # Asked first: ranking every Not Synced resource of a million is minutes of work.
    if suggest is None or proposal is None or "preselected" not in {f.name for f in dataclasses.fields(proposal)}:
        return None
    proposals = suggest(store, integration_id)
    return [(p.resource_id, p.record_id) for p in proposals if p.preselected and p.record_id is not None]


def run(n: int, directory: Path, label: str, suggest: bool = True) -> dict:
    """Generate a world of about ``n`` resources, sync both products into a fresh store, score
    (and, with ``suggest``, score the RMM's pre-selected suggestions too)."""
    began = time.perf_counter()
    world = generate(n)
    generated = time.perf_counter() - began
    path = directory / f"{label}-{n}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    store = open_store(path)
    prepare(store, world)
    times = {}
    for kind, items, create in ((PSA, world.psa, True), (RMM, world.rmm, False)):
        began, cpu = time.perf_counter(), time.process_time()
        report = sync_connector(store, WorldConnector(kind, items), create_missing=create)
        times[kind] = (time.perf_counter() - began, time.process_time() - cpu)
        assert report.ok, report.summary()
    found = score(store, world)
    figures = {
        "resources": world.resources, "generated_s": generated,
        "links": found.links, "correct": found.correct, "should": found.should,
        "precision": found.precision, "recall": found.recall,
        "wrong": dict(found.wrong_by_case), "missed": dict(found.missed_by_case),
        "items": dict(found.items_by_case),
        "psa_s": times[PSA][0], "psa_cpu_s": times[PSA][1], "rmm_s": times[RMM][0], "rmm_cpu_s": times[RMM][1],
    }
    with store.read() as conn:
        integration = dict(conn.exec_driver_sql("SELECT name, id FROM integration").all())
    pairs = preselected(store, integration[NAMES[RMM]]) if suggest else None
    if pairs is not None:
        figures["preselected"] = len(pairs)
        figures["preselected_correct"] = _correct_pairs(store, world, pairs)
    store.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return figures


def _correct_pairs(store, world, pairs: list[tuple[int, int]]) -> int:
    """How many (resource id, record id) pairs of the RMM are what the truth says."""
    with store.read() as conn:
        raw = conn.connection.driver_connection
        psa_id = raw.execute("SELECT id FROM integration WHERE name = ?", (NAMES[PSA],)).fetchone()[0]
        record_of = {(t, e): r for t, e, r in raw.execute(
            "SELECT type, external_id, record_id FROM resource WHERE integration_id = ?", (psa_id,))}
        key_of = {rid: (t, e) for rid, t, e in raw.execute("SELECT id, type, external_id FROM resource")}
    correct = 0
    for resource_id, record_id in pairs:
        truth = world.truth.get(key_of[resource_id])
        if truth is not None and truth.psa is not None and record_of.get(truth.psa) == record_id:
            correct += 1
    return correct


def child(before: str, sizes: list[int], timing: list[int], directory: Path) -> dict[int, dict]:
    """Run this script with the engine of commit ``before`` (its src/ from ``git archive``)."""
    src = directory / f"engine-{before}"
    if not src.exists():
        src.mkdir()
        archive = subprocess.run(["git", "archive", before, "src"], cwd=HERE.parent, capture_output=True, check=True)
        tar_path = directory / "engine.tar"
        tar_path.write_bytes(archive.stdout)
        with tarfile.open(tar_path) as tar:
            tar.extractall(src, filter="data")
    env = {**os.environ, "PYTHONPATH": f"{src / 'src'}{os.pathsep}{HERE}", "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run([sys.executable, __file__, "--engine-only", "--before", "none", "--dir", str(directory),
                           "--sizes", ",".join(map(str, sizes)), *[f"--timing={n}" for n in timing]],
                          env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the engine of {before} failed:\n{done.stderr[-3000:]}")
    line = next(text for text in done.stdout.splitlines() if text.startswith("FIGURES "))
    return {int(k): v for k, v in json.loads(line[len("FIGURES "):]).items()}


def show(label: str, f: dict) -> None:
    rate = f["resources"] / (f["psa_s"] + f["rmm_s"])
    print(f"  {label:<8} precision {f['precision']:7.2%}  recall {f['recall']:7.2%}  "
          f"({f['correct']:,} right of {f['links']:,} links; {f['should']:,} should link)  "
          f"PSA sync {f['psa_s']:6.1f} s, RMM sync {f['rmm_s']:6.1f} s ({rate:,.0f} resources/s; "
          f"CPU {f['psa_cpu_s'] + f['rmm_cpu_s']:.1f} s)")
    if f["wrong"]:
        print(f"           wrong links by case: {f['wrong']}")
    if f["missed"]:
        print(f"           missed by case: {f['missed']}")
    if "preselected" in f:
        share = f["preselected_correct"] / f["preselected"] if f["preselected"] else 1.0
        print(f"           pre-selected suggestions: {f['preselected']:,}, {share:.2%} right")
    else:
        print("           pre-selected suggestions: n/a (this engine does not pre-select, or a timing run)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="20000", help="world sizes to score (resources over both products)")
    parser.add_argument("--timing", type=int, action="append", default=[],
                        help="also time a world of this size (e.g. 1000000), both engines")
    parser.add_argument("--before", default=NAME_ONLY, help='commit of the "before" engine, or "none"')
    parser.add_argument("--dir", type=Path, help="where to put the stores (default: a temporary directory)")
    parser.add_argument("--engine-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    scored = [int(n) for n in args.sizes.split(",") if n]
    sizes = scored + args.timing
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        directory = Path(tmp)
        # A timing run leaves the suggestions out: ranking a million items' candidates is minutes.
        after = {n: run(n, directory, "after", suggest=n in scored) for n in sizes}
        if args.engine_only:
            print("FIGURES " + json.dumps(after), flush=True)
            return
        print(machine())
        before = child(args.before, scored, args.timing, directory) if args.before != "none" else {}
    for n in sizes:
        print(f"\nWorld of {after[n]['resources']:,} resources (PSA + RMM), cases: "
              + ", ".join(f"{case} {count:,}" for case, count in sorted(after[n]["items"].items())))
        if n in before:
            show("before", before[n])
        show("after", after[n])
        if n in before:
            old, new = before[n]["psa_s"] + before[n]["rmm_s"], after[n]["psa_s"] + after[n]["rmm_s"]
            print(f"  time after / before: {new / old:.2f}x (target ≤ 2x)")


if __name__ == "__main__":
    main()
