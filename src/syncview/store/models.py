"""The store's tables, in SQLAlchemy Core.

Names follow the domain: integration, client, record, resource (a remote
resource), sync run, sync log entry, audit event. JSON columns hold text so the
store stays readable with the plain ``sqlite3`` shell.

Each table is reached as ``Name.__table__`` (``Resource.__table__.c.name_norm``), the
way it was when these were SQLModel classes. They are plain Core tables because every
reader and writer of the store goes through Core, never the ORM, and SQLModel's class
machinery (pydantic and ``sqlalchemy.orm``) cost about 0.12 s of the app's 0.5 s
start-up budget on the 2-core benchmark machine (benchmarks/RESULTS.md). The DDL a
new store gets is the same as before, column for column, so existing stores need no
migration.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (Boolean, Column, DateTime, ForeignKey, Index, Integer, MetaData, String, Table, Text,
                        UniqueConstraint, types)

#: Every table of the store (the derived tables of :mod:`syncview.store.derived` excepted).
metadata = MetaData()


class UTCDateTime(types.TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out; stored as UTC without an offset.

    A naive datetime is refused on the way in: the store never guesses a time zone.
    """

    impl = DateTime
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(timezone=True)

    def coerce_compared_value(self, op: Any, value: Any) -> types.TypeEngine[Any]:
        if isinstance(value, timedelta):
            return types.Interval()
        return self

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            raise ValueError("datetimes written to the store must be aware (e.g. datetime.now(UTC))")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _id() -> Column:
    return Column("id", Integer, primary_key=True)


def _json(name: str, default: str | None = "{}") -> Column:
    return Column(name, Text, nullable=False, default=default)


class Integration:
    """A connection to one PSA/RMM instance; its settings and secrets live in the config, not here."""

    __table__ = Table(
        "integration", metadata,
        _id(),
        Column("name", String, nullable=False, unique=True),
        Column("kind", String, nullable=False),
        Column("created_at", UTCDateTime, nullable=False),
    )


class Client:
    """A local client (organisation) of the documentation store."""

    __table__ = Table(
        "client", metadata,
        _id(),
        Column("name", String, nullable=False),
        Column("name_norm", String, nullable=False, index=True),
    )


class Record:
    """A local documentation record: the thing a remote resource is matched to."""

    __table__ = Table(
        "record", metadata,
        _id(),
        #: a ResourceType value
        Column("type", String, nullable=False),
        Column("client_id", Integer, ForeignKey("client.id")),
        Column("name", String, nullable=False),
        Column("name_norm", String, nullable=False),
        Column("disabled", Boolean, nullable=False, default=False),
        _json("attributes"),
        Column("created_at", UTCDateTime, nullable=False),
        Column("updated_at", UTCDateTime, nullable=False),
        Index("ix_record_type_client_norm", "type", "client_id", "name_norm"),
    )


class Resource:
    """One remote resource as the last sync saw it, and how it stands locally.

    ``version`` grows with every change so an action can refuse to apply over a
    change it did not see (optimistic concurrency). ``type`` is a ResourceType value,
    ``status`` a SyncStatus value.
    """

    __table__ = Table(
        "resource", metadata,
        _id(),
        Column("integration_id", Integer, ForeignKey("integration.id"), nullable=False),
        Column("type", String, nullable=False),
        Column("external_id", String, nullable=False),
        Column("name", String, nullable=False),
        Column("name_norm", String, nullable=False),
        Column("remote_company", String),
        Column("client_id", Integer, ForeignKey("client.id")),
        _json("payload"),
        Column("status", String, nullable=False, default="not_synced"),
        Column("record_id", Integer, ForeignKey("record.id")),
        Column("first_seen", UTCDateTime, nullable=False),
        Column("last_seen", UTCDateTime, nullable=False),
        Column("deleted_remotely", Boolean, nullable=False, default=False),
        Column("version", Integer, nullable=False, default=1),
        Column("updated_at", UTCDateTime),
        Column("updated_by", String),
        UniqueConstraint("integration_id", "type", "external_id", name="uq_resource_external"),
        # The screen's queries: integration, then client, status and type filters, ordered by name.
        Index("ix_resource_screen", "integration_id", "client_id", "status", "type", "name_norm"),
        Index("ix_resource_integration_name", "integration_id", "name_norm"),
        Index("ix_resource_integration_status_type", "integration_id", "status", "type"),
        Index("ix_resource_record", "record_id"),
    )


class SyncRun:
    """One run of a connector for one integration; ``outcome`` is running, success, partial or failed."""

    __table__ = Table(
        "syncrun", metadata,
        _id(),
        Column("integration_id", Integer, ForeignKey("integration.id"), nullable=False),
        Column("started_at", UTCDateTime, nullable=False),
        Column("ended_at", UTCDateTime),
        Column("outcome", String, nullable=False, default="running"),
        Column("fetched", Integer, nullable=False, default=0),
        Column("created", Integer, nullable=False, default=0),
        Column("matched", Integer, nullable=False, default=0),
        Column("not_synced", Integer, nullable=False, default=0),
        Column("removed", Integer, nullable=False, default=0),
        Column("message", String),
        Index("ix_sync_run_integration_started", "integration_id", "started_at"),
    )


class SyncLogEntry:
    """One notable event of a sync run or an operator action; ``level`` is info, warning or error."""

    __table__ = Table(
        "sync_log_entry", metadata,
        _id(),
        Column("integration_id", Integer, ForeignKey("integration.id"), nullable=False),
        Column("sync_run_id", Integer, ForeignKey("syncrun.id")),
        Column("time", UTCDateTime, nullable=False),
        Column("level", String, nullable=False, default="info"),
        Column("message", String, nullable=False),
        Column("resource_id", Integer, ForeignKey("resource.id")),
        Index("ix_log_integration_time", "integration_id", "time"),
    )


class AuditEvent:
    """One operator action on one resource; events of one action share a ``batch``.

    ``before`` and ``after`` are JSON snapshots of every field the action changed,
    enough to undo it exactly; ``undone_by`` is the batch of the undo that reverted it.
    """

    __table__ = Table(
        "audit_event", metadata,
        _id(),
        Column("batch", String, nullable=False),
        Column("time", UTCDateTime, nullable=False),
        Column("operator", String, nullable=False),
        Column("action", String, nullable=False),
        Column("integration_id", Integer, ForeignKey("integration.id")),
        Column("resource_id", Integer, ForeignKey("resource.id")),
        _json("before"),
        _json("after"),
        Column("undone_by", String),
        Index("ix_audit_operator_batch", "operator", "batch"),
        Index("ix_audit_resource", "resource_id"),
    )


class Meta:
    """Facts about the store itself, by key (e.g. how the demo was seeded, so it can be re-synced);
    ``value`` is JSON text."""

    __table__ = Table(
        "meta", metadata,
        Column("key", String, primary_key=True),
        Column("value", Text, nullable=False),
    )
