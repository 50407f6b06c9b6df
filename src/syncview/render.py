"""Turning service results into JSON and into rows for the CLI's tables and exports."""

from __future__ import annotations

import csv
import dataclasses
import json
from collections.abc import Iterable
from datetime import datetime
from enum import Enum
from typing import IO, Any

from syncview.services.queries import ResourceRow

#: Columns of a resource in CSV/JSON exports and ``resources --json``, in order.
RESOURCE_FIELDS = (
    "id", "integration_id", "type", "external_id", "name", "status", "record_id", "record_name",
    "record_disabled", "remote_company", "client_id", "client_name", "last_seen", "deleted_remotely",
    "version", "updated_by", "updated_at",
)


def jsonable(value: Any) -> Any:
    """Dataclasses, enums and datetimes as plain JSON values (datetimes in ISO 8601 UTC)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(jsonable(k)): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def dumps(value: Any) -> str:
    return json.dumps(jsonable(value), indent=2, ensure_ascii=False)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def inert(text: str) -> str:
    """A cell value that neither a spreadsheet nor a terminal will execute.

    Control characters (terminal escape sequences among them) become visible
    ``\\xNN`` escapes; a leading formula character gets a quote.
    """
    cleaned = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)
    return "'" + cleaned if cleaned.startswith(_FORMULA_START) else cleaned


def resource_record(row: ResourceRow) -> dict[str, Any]:
    return {name: jsonable(getattr(row, name)) for name in RESOURCE_FIELDS}


def write_csv(rows: Iterable[ResourceRow], out: IO[str]) -> int:
    """Write resources as CSV; returns how many rows were written."""
    writer = csv.writer(out)
    writer.writerow(RESOURCE_FIELDS)
    count = 0
    for row in rows:
        record = resource_record(row)
        writer.writerow(["" if v is None else inert(str(v)) for v in record.values()])
        count += 1
    return count


def write_json(rows: Iterable[ResourceRow], out: IO[str]) -> int:
    """Write resources as a JSON array, streaming one object per line; returns the count."""
    out.write("[")
    count = 0
    for row in rows:
        out.write(",\n" if count else "\n")
        out.write(json.dumps(resource_record(row), ensure_ascii=False))
        count += 1
    out.write("\n]\n")
    return count
