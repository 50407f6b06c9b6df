"""The local store (an SQLite file or a PostgreSQL database): tables, engine, schema version and migrations."""

from syncview.store.db import Cancellation, Store, open_store, sqlite_connection
from syncview.store.dialect import RawConnection, RawCursor, insert_id, insert_rows, raw_connection

__all__ = ["Cancellation", "RawConnection", "RawCursor", "Store", "insert_id", "insert_rows", "open_store", "raw_connection",
           "sqlite_connection"]
