"""SQLModel tables of the store.

Names follow the domain: integration, client, record, resource (a remote
resource), sync run, sync log entry, audit event. JSON columns hold text so the
store stays readable with the plain ``sqlite3`` shell (and ``psql``); flags are
:class:`~syncview.store.dialect.Flag` columns, 0/1 on both engines.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Float, Index, Integer, MetaData, String, Table, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from syncview.store.dialect import Flag


class Integration(SQLModel, table=True):
    """A connection to one PSA/RMM instance; its settings and secrets live in the config, not here."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    kind: str
    created_at: datetime


class Client(SQLModel, table=True):
    """A local client (organisation) of the documentation store."""

    id: int | None = Field(default=None, primary_key=True)
    name: str
    name_norm: str = Field(index=True)


class Record(SQLModel, table=True):
    """A local documentation record: the thing a remote resource is matched to."""

    __table_args__ = (Index("ix_record_type_client_norm", "type", "client_id", "name_norm"),)

    id: int | None = Field(default=None, primary_key=True)
    #: a ResourceType value
    type: str
    client_id: int | None = Field(default=None, foreign_key="client.id")
    name: str
    name_norm: str
    disabled: bool = Field(default=False, sa_column=Column(Flag, nullable=False, default=False))
    attributes: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
    created_at: datetime
    updated_at: datetime


class Resource(SQLModel, table=True):
    """One remote resource as the last sync saw it, and how it stands locally.

    ``version`` grows with every change so an action can refuse to apply over a
    change it did not see (optimistic concurrency).
    """

    __table_args__ = (
        UniqueConstraint("integration_id", "type", "external_id", name="uq_resource_external"),
        # The screen's queries: integration, then client, status and type filters, ordered by name.
        Index("ix_resource_screen", "integration_id", "client_id", "status", "type", "name_norm"),
        Index("ix_resource_integration_name", "integration_id", "name_norm"),
        Index("ix_resource_integration_status_type", "integration_id", "status", "type"),
        Index("ix_resource_record", "record_id"),
        # Removed-remotely resources, counted apart from the live ones on every tile refresh:
        # a partial index holds only them, so the count never walks the live rows. It holds their
        # client too (schema 4), so the client picker's count of them reads no row either
        # (at 1M: SQLite 38 -> 7 ms, PostgreSQL 23 -> 4 ms).
        Index("ix_resource_removed", "integration_id", "status", "type", "client_id",
              sqlite_where=text("deleted_remotely = 1"), postgresql_where=text("deleted_remotely = 1")),
    )

    id: int | None = Field(default=None, primary_key=True)
    integration_id: int = Field(foreign_key="integration.id")
    #: a ResourceType value
    type: str
    external_id: str
    name: str
    name_norm: str
    remote_company: str | None = None
    client_id: int | None = Field(default=None, foreign_key="client.id")
    payload: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
    #: a SyncStatus value
    status: str = "not_synced"
    record_id: int | None = Field(default=None, foreign_key="record.id")
    first_seen: datetime
    last_seen: datetime
    deleted_remotely: bool = Field(default=False, sa_column=Column(Flag, nullable=False, default=False))
    version: int = 1
    updated_at: datetime | None = None
    updated_by: str | None = None
    #: how a Matched resource was linked: a rule's key (xref, serial, mac, email, name), or
    #: operator (a re-match), or created (its record was made from it); None otherwise
    matched_on: str | None = None
    #: why a Not Synced resource is not linked, in words ("2 records share serial ABC123")
    reason: str | None = None
    #: the same in a word (a syncview.services.matching.ReasonKind value), for filters
    reason_kind: str | None = None


class ResourceKey(SQLModel, table=True):
    """One identity key of a remote resource as its last sync normalised it (serial, MAC...).

    A matched resource's keys are also its record's: a record is found by the keys of the
    resources linked to it, whichever integration they came from (see :class:`RecordKey`).
    """

    __tablename__ = "resource_key"
    __table_args__ = (Index("ix_resource_key_value", "kind", "value"), {"sqlite_with_rowid": False})

    resource_id: int = Field(foreign_key="resource.id", primary_key=True)
    #: a syncview.identity.KeyKind value
    kind: str = Field(primary_key=True)
    value: str = Field(primary_key=True)


class RecordKey(SQLModel, table=True):
    """An identity key a record holds itself: those of the item a sync created it from,
    kept when that item is unlinked, refreshed while it stays linked."""

    __tablename__ = "record_key"
    __table_args__ = (Index("ix_record_key_value", "kind", "value"), {"sqlite_with_rowid": False})

    record_id: int = Field(foreign_key="record.id", primary_key=True)
    kind: str = Field(primary_key=True)
    value: str = Field(primary_key=True)


class SyncRun(SQLModel, table=True):
    """One run of a connector for one integration."""

    __table_args__ = (Index("ix_sync_run_integration_started", "integration_id", "started_at"),)

    id: int | None = Field(default=None, primary_key=True)
    integration_id: int = Field(foreign_key="integration.id")
    started_at: datetime
    ended_at: datetime | None = None
    #: running, success, partial or failed
    outcome: str = "running"
    fetched: int = 0
    created: int = 0
    matched: int = 0
    not_synced: int = 0
    removed: int = 0
    message: str | None = None


class SyncLogEntry(SQLModel, table=True):
    """One notable event of a sync run or an operator action."""

    __tablename__ = "sync_log_entry"
    __table_args__ = (Index("ix_log_integration_time", "integration_id", "time"),)

    id: int | None = Field(default=None, primary_key=True)
    integration_id: int = Field(foreign_key="integration.id")
    sync_run_id: int | None = Field(default=None, foreign_key="syncrun.id")
    time: datetime
    #: info, warning or error
    level: str = "info"
    message: str
    resource_id: int | None = Field(default=None, foreign_key="resource.id")


class AuditEvent(SQLModel, table=True):
    """One operator action on one resource; events of one action share a ``batch``.

    ``before`` and ``after`` are JSON snapshots of every field the action changed,
    enough to undo it exactly.
    """

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_operator_batch", "operator", "batch"),
        Index("ix_audit_resource", "resource_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    batch: str
    time: datetime
    operator: str
    action: str
    integration_id: int | None = Field(default=None, foreign_key="integration.id")
    resource_id: int | None = Field(default=None, foreign_key="resource.id")
    before: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
    after: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
    #: batch of the undo that reverted this event, if any
    undone_by: str | None = None


class Meta(SQLModel, table=True):
    """Facts about the store itself, by key (e.g. how the demo was seeded, so it can be re-synced)."""

    key: str = Field(primary_key=True)
    #: JSON text
    value: str = Field(sa_column=Column(Text, nullable=False))


def table_of(model: type[SQLModel]) -> Table:
    """The SQLAlchemy table of a SQLModel class.

    SQLModel sets ``__table__`` when the class is created, which a type checker cannot see;
    this is the one place that reads it, so the rest of the code works with typed tables.
    """
    table = getattr(model, "__table__", None)
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not a table model")
    return table


integration_table = table_of(Integration)
client_table = table_of(Client)
record_table = table_of(Record)
resource_table = table_of(Resource)
sync_run_table = table_of(SyncRun)
sync_log_table = table_of(SyncLogEntry)
audit_table = table_of(AuditEvent)
meta_table = table_of(Meta)
resource_key_table = table_of(ResourceKey)
record_key_table = table_of(RecordKey)


#: Tables that coordinate processes rather than hold the store's data: created with the schema
#: (db.py, pg.py) but never backed up or restored, since a lease restored from a backup would
#: hold a share of a vendor's rate that no process uses.
coordination = MetaData()

#: A block of an account's rate slots leased by one process (store/leases.py): the leases alive
#: at any moment never hold more than the account's rate. ``integration`` names the account
#: (``Connector.rate_account``: the integration's name unless it shares one). ``granted_at`` and
#: ``expires_at`` are the store's clock, in seconds since the epoch: a lease not settled by its
#: holder (killed) frees itself at ``expires_at``.
rate_lease_table = Table(
    "rate_lease", coordination,
    Column("id", Integer, primary_key=True),
    Column("integration", String, nullable=False),
    Column("holder", String, nullable=False),
    Column("slots", Integer, nullable=False),
    Column("granted_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Index("ix_rate_lease_integration", "integration", "expires_at"),
)

#: Room for requests in flight on one endpoint of an account ("" when its bound is not per
#: endpoint) leased by one process (store/leases.py): the leases alive never hold more than the
#: bound. A lease of no slots marks a holder waiting for room (the others then keep to a fair
#: share). ``expires_at`` is the store's clock, as for ``rate_lease``.
flight_lease_table = Table(
    "flight_lease", coordination,
    Column("id", Integer, primary_key=True),
    Column("integration", String, nullable=False),
    Column("endpoint", String, nullable=False),
    Column("holder", String, nullable=False),
    Column("slots", Integer, nullable=False),
    Column("expires_at", Float, nullable=False),
    Index("ix_flight_lease_integration", "integration", "endpoint"),
)


#: The columns a new client and a new record are written with in bulk (``insert_rows``): the
#: sync engine's records for items that matched none, and the demo seeder's.
NEW_CLIENT_COLUMNS = ("id", "name", "name_norm")
NEW_RECORD_COLUMNS = ("id", "type", "client_id", "name", "name_norm", "disabled", "attributes", "created_at",
                      "updated_at")
