"""The local SQLite store: tables, engine, schema version and migrations."""

from syncview.store.db import Cancellation, Store, open_store, sqlite_connection

__all__ = ["Cancellation", "Store", "open_store", "sqlite_connection"]
