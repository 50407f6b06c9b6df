"""Build ``store-v2.db``, a store as syncview wrote it at schema 2 (before identity keys).

Run it with the schema-2 code, not the current one, e.g. from a clean checkout of commit
4ef9cb6 (the last with schema 2)::

    git archive 4ef9cb6 src | tar -x -C /tmp/v2 && \
    PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=/tmp/v2/src python tests/unit/data/make_v2_store.py

It seeds a small demo (300 resources) and re-matches one resource as operator "ana",
so the migration has operator links and name links to tell apart.
"""

from pathlib import Path

from syncview.services import actions, queries
from syncview.services.seed import seed_demo
from syncview.store import open_store
from syncview.store.db import SCHEMA_VERSION

assert SCHEMA_VERSION == 2, "run this with the schema-2 code (see the docstring)"
target = Path(__file__).with_name("store-v2.db")
target.unlink(missing_ok=True)
store = open_store(target)
seed_demo(store, 300, seed=7)
integration = queries.list_integrations(store)[0]
row = queries.resource_page(store, queries.ResourceFilter(integration.id, status=queries.SyncStatus.NOT_SYNCED),
                            limit=1)[0]
record = queries.find_records(store, row.type)[0]
actions.rematch(store, row.id, record.id, operator="ana")
store.close()
with __import__("sqlite3").connect(target) as raw:
    raw.execute("PRAGMA journal_mode = DELETE")
print(f"wrote {target}")
