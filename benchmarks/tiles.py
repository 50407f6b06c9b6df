"""Tiles: the totals, status counts and client list the overview reads for an integration.

    .venv/bin/python benchmarks/tiles.py --sizes 1000,100000,1000000 [--repeats 15]

Times ``services.queries.integration_totals`` and ``integration_clients`` (what the
overview's tiles and client picker read, one after the other in one worker) for the
integration with the most resources, each on its own and together, after one warm-up
call. Target: ≤ 50 ms together at 1M.
"""

from __future__ import annotations

from common import Stats, emit, machine, print_table, repeat, seeded_store, size_arguments

TARGET_S = 0.050


def measure(n: int, repeats: int) -> dict[str, Stats]:
    from syncview.services import queries
    from syncview.store import open_store

    store = open_store(seeded_store(n))
    try:
        integration = max((i.id for i in queries.list_integrations(store)),
                          key=lambda i: queries.integration_totals(store, i).total)
        totals = lambda: queries.integration_totals(store, integration)  # noqa: E731
        clients = lambda: queries.integration_clients(store, integration)  # noqa: E731
        return {"totals": repeat(totals, repeats), "clients": repeat(clients, repeats),
                "both": repeat(lambda: (totals(), clients()), repeats)}
    finally:
        store.close()


def main() -> None:
    parser = size_arguments(__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=15, help="timed calls of each (default %(default)s)")
    args = parser.parse_args()
    print(machine())
    rows, figures = [], {}
    for n in args.sizes:
        stats = measure(n, args.repeats)
        figures[n] = {name: {"median": s.median, "p95": s.p95} for name, s in stats.items()}
        both = stats["both"]
        rows.append([f"{n:,}", stats["totals"].ms(), stats["clients"].ms(), both.ms(),
                     "yes" if both.median <= TARGET_S else "NO"])
    print_table(["resources", "totals ms", "clients ms", "both ms (median / p95)", "≤ 50 ms?"], rows,
                title="Tiles: integration_totals + integration_clients, largest integration")
    emit(figures, args.json)


if __name__ == "__main__":
    main()
