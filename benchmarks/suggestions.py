"""How safe one ctrl+s (or `syncview suggestions --accept`) is: suggestions, how many are
pre-selected, and how many of those are right, scored against the demo world's truth (issue 11).

    .venv/bin/python benchmarks/suggestions.py                   # N = 1 000 and 100 000
    .venv/bin/python benchmarks/suggestions.py --sizes 200000

For each N it seeds the demo MSP into a temporary store, then for each integration computes
the Suggested view's proposals (:func:`syncview.services.proposals.suggestions`) and prints:
how many suggestions, how many pre-selected, and the precision of the pre-selected ones (the
share whose proposed record is the one the demo world says the resource really is:
``DemoResource.truth``), beside the precision of ticking them all, as the view did before.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from common import emit, machine, size_arguments
from syncview.demo import DemoWorld
from syncview.services import proposals, queries
from syncview.services.seed import seed_demo
from syncview.store import open_store


def main() -> int:
    args = size_arguments(__doc__.splitlines()[0]).parse_args()
    print(machine())
    figures: dict = {}
    for n in args.sizes:
        # On an empty store the seeder keeps the world's ids (records from 1, resources in order).
        truth = {(res.integration, res.external_id): res.truth for client in DemoWorld(n) for res in client.resources}
        with tempfile.TemporaryDirectory() as directory:
            store = open_store(Path(directory) / "demo.db")
            seed_demo(store, n)
            for integration in queries.list_integrations(store):
                began = time.perf_counter()
                found = proposals.suggestions(store, integration.id)
                seconds = time.perf_counter() - began
                ext = {r.id: r.external_id for r in queries.iter_resources(
                    store, queries.ResourceFilter(integration.id, status=None))}
                right = [p for p in found if truth.get((integration.name, ext[p.resource_id])) == p.record_id]
                chosen = [p for p in found if p.preselected]
                chosen_right = [p for p in chosen if p in right]
                line = {"suggestions": len(found), "preselected": len(chosen),
                        "preselected_right": len(chosen_right), "all_right": len(right), "seconds": round(seconds, 1)}
                figures[f"{n}:{integration.name}"] = line
                print(f"{n:>9,} {integration.name:<20} {len(found):>7,} suggestions in {seconds:5.1f} s; "
                      f"pre-selected {len(chosen):>6,}, right {len(chosen_right):,} "
                      f"({100 * len(chosen_right) / max(1, len(chosen)):.1f} %); ticking all would be right "
                      f"{len(right):,} of {len(found):,} ({100 * len(right) / max(1, len(found)):.1f} %)")
            store.close()
    emit(figures, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
