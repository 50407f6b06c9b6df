"""Bulk actions: exclude, include and re-match on 10 000 marked resources, and their undo.

    .venv/bin/python benchmarks/bulk.py [--marked 10000] [--resources 40000] [--rounds 3] [--store PATH]

Seeds a throw-away demo store (the bulk actions write to it), or works on a copy of
``--store`` (e.g. ``benchmarks/.cache/store-1000000.db`` for a million), marks ``--marked``
resources of the largest integration two ways — one by one (10 000 ids, the worst
case for the marks) and by a filter (``*``) — and times, each on its own:

- counting the marks, and resolving them inside the write transaction;
- bulk exclude with "disable records", then undo;
- bulk include of the excluded ones;
- proposing the best-ranked record for each (rapidfuzz), then bulk re-match to them.

Target: each bulk action (exclude, include, re-match, undo) < 1 s on 10 000 marked rows.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

TARGET_S = 1.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--marked", type=int, default=10_000)
    parser.add_argument("--resources", type=int, default=40_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--store", type=Path, help="copy this store instead of seeding one")
    args = parser.parse_args()

    from syncview.domain import SyncStatus
    from syncview.services import actions, bulk, queries
    from syncview.services.bulk import Marks
    from syncview.services.queries import ResourceFilter
    from syncview.services.seed import seed_demo
    from syncview.store import open_store

    timings: dict[str, list[float]] = {}

    def timed(name: str, call):
        start = time.perf_counter()
        result = call()
        timings.setdefault(name, []).append(time.perf_counter() - start)
        return result

    with tempfile.TemporaryDirectory() as directory:
        start = time.perf_counter()
        if args.store:
            copy = Path(directory) / "bulk.db"
            shutil.copyfile(args.store, copy)
            store = open_store(copy)
            print(f"copied {args.store} in {time.perf_counter() - start:.1f} s")
        else:
            store = open_store(Path(directory) / "bulk.db")
            seed_demo(store, args.resources)
            print(f"seeded {args.resources:,} resources in {time.perf_counter() - start:.1f} s")
        integration = max(queries.list_integrations(store),
                          key=lambda i: queries.integration_totals(store, i.id).total)
        matched = ResourceFilter(integration.id, status=SyncStatus.MATCHED)
        seen = [(row.id, row.version) for _, row in zip(range(args.marked), queries.iter_resources(store, matched))]
        ids = [i for i, _ in seen]
        if len(ids) < args.marked:
            print(f"only {len(ids):,} matched resources; seed more with --resources", file=sys.stderr)
            return 2
        # As the screen marks them: each row with the version it showed (checked at action time).
        one_by_one = Marks(added=frozenset(ids), versions=frozenset(seen))
        # The same rows as a filter: every matched resource up to the last marked id's name
        # would not be exact, so the filter case marks a whole client set of about that size.
        for round_ in range(args.rounds):
            def fresh() -> Marks:
                """The rows marked again, as the screen would after each action (it drops the marks)."""
                return Marks(added=frozenset(ids), versions=frozenset(
                    (r.id, r.version) for r in bulk.iter_marked(store, one_by_one)))

            marks = fresh()
            count = timed("count marks (10k ids)", lambda: bulk.count(store, marks))
            assert count == len(ids), count
            timed("bulk exclude + disable records", lambda: bulk.exclude(
                store, marks, disable_records=True, expected_count=count))
            timed("undo bulk exclude", lambda: actions.undo(store))
            timed("redo bulk exclude", lambda: actions.redo(store))
            marks = fresh()
            timed("bulk include", lambda: bulk.include(store, marks, expected_count=count))
            marks = fresh()
            proposals = timed("propose re-match (rapidfuzz)", lambda: bulk.propose(store, marks))
            assert sum(p.record_id is not None for p in proposals) == len(ids)
            timed("bulk re-match", lambda: bulk.rematch(store, proposals))
            timed("undo bulk re-match", lambda: actions.undo(store))
            # Leave the store as it was for the next round: undo include, undo the redo.
            actions.undo(store)
            actions.undo(store)
            restored = bulk.count(store, Marks((matched,)))
            assert restored == queries.count_resources(store, matched)

            if args.store:
                print(f"round {round_ + 1}: done")
                continue  # excluding every matched resource of a large store is not the point here
            flt = ResourceFilter(integration.id, status=SyncStatus.MATCHED)
            # As the screen's "*" marks them: with the store's snapshot, taken on the screen's thread.
            taken = timed("snapshot for mark all (*)", lambda: bulk.snapshot(store, integration.id))
            all_matched = Marks((flt,), snapshot=taken)
            n = timed("count marks (filter, kept counts)", lambda: bulk.count(store, all_matched))
            timed(f"bulk exclude by filter ({n:,})", lambda: bulk.exclude(store, all_matched, expected_count=n))
            timed(f"undo bulk exclude by filter ({n:,})", lambda: actions.undo(store))
            print(f"round {round_ + 1}: done")
        store.close()

    print()
    print(f"{'step':<44} {'median':>9} {'max':>9}  target")
    failed = False
    for name, values in timings.items():
        median, worst = statistics.median(values), max(values)
        is_action = name.startswith(("bulk", "undo", "redo")) and "filter" not in name
        verdict = ("ok" if worst < TARGET_S else "SLOW") if is_action else ""
        failed |= verdict == "SLOW"
        print(f"{name:<44} {median * 1000:>7.0f}ms {worst * 1000:>7.0f}ms  {verdict}")
    print(f"\n{args.marked:,} marked resources; target < {TARGET_S:g} s per bulk action")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
