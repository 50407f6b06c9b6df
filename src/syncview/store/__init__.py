"""The local SQLite store: tables, engine, schema version and migrations."""

from syncview.store.db import Store, open_store

__all__ = ["Store", "open_store"]
