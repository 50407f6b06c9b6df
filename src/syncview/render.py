"""Turning service results into JSON and into rows for the CLI's tables and exports.

Remote data is untrusted: a device name may hold a terminal escape sequence or a
spreadsheet formula. Everything here that ends up on a terminal or in a CSV file
is made inert first; JSON keeps the exact values but escapes the characters a
terminal would act on.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import IO, Any

from syncview.errors import ActionError
from syncview.safe_text import printable
from syncview.services.columns import EXPORT_FIELDS, ResourceRow

#: Columns of a resource in CSV/JSON exports and ``resources --json``, in order (see
#: :mod:`syncview.services.columns`, where they are described).
RESOURCE_FIELDS = EXPORT_FIELDS

#: Cell starts a spreadsheet treats as a formula (OWASP "CSV injection"). Tab and CR are
#: listed for completeness; printable() has already escaped them.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

#: Characters json.dumps(ensure_ascii=False) leaves raw but a terminal would act on, that
#: reorder or hide what the reader sees, or that UTF-8 cannot even encode: DEL and C1 controls
#: (U+009B is a one-byte CSI), the Arabic letter mark and left-to-right/right-to-left marks
#: (U+061C, U+200E, U+200F) with the other zero-width format characters, line and paragraph
#: separators, bidirectional embeddings, overrides and isolates, the BOM, and lone surrogates
#: (half an emoji from a UTF-16 API; JSON's ``\udXXX`` escape keeps the value exactly).
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ud800-\udfff]")


def jsonable(value: Any) -> Any:
    """Dataclasses, enums and datetimes as plain JSON values (datetimes in ISO 8601 with offset)."""
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


def _escape_unsafe(text: str) -> str:
    # Only ever inside JSON strings (JSON's own syntax is ASCII), so \\uXXXX is the same value.
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def dumps(value: Any, *, indent: int | None = 2) -> str:
    """``value`` as JSON: readable non-ASCII text, but nothing a terminal would execute."""
    return _escape_unsafe(json.dumps(jsonable(value), indent=indent, ensure_ascii=False))


def inert(text: str) -> str:
    """A cell value that neither a spreadsheet nor a terminal will execute.

    Control characters become visible escapes (see :func:`printable`); a leading
    formula character gets a quote, which spreadsheets show as text.
    """
    cleaned = printable(text)
    return "'" + cleaned if cleaned.startswith(_FORMULA_START) else cleaned


def resource_record(row: ResourceRow) -> dict[str, Any]:
    """A resource row as the JSON object exports and ``--json`` outputs use."""
    return {name: jsonable(getattr(row, name)) for name in RESOURCE_FIELDS}


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"  # as in the JSON export, not Python's "True"
    return inert(str(value))


def write_csv(rows: Iterable[ResourceRow], out: IO[str]) -> int:
    """Write resources as CSV with a header row; returns how many resources were written."""
    writer = csv.writer(out)
    writer.writerow(RESOURCE_FIELDS)
    count = 0
    for row in rows:
        writer.writerow([_csv_cell(v) for v in resource_record(row).values()])
        count += 1
    return count


def write_json(rows: Iterable[ResourceRow], out: IO[str]) -> int:
    """Write resources as a JSON array, streaming one object per line; returns the count.

    Streaming keeps memory flat for a million-resource export.
    """
    out.write("[")
    count = 0
    for row in rows:
        out.write(",\n" if count else "\n")
        out.write(dumps(resource_record(row), indent=None))
        count += 1
    out.write("\n]\n")
    return count


def write_atomically(path: Path, write: Callable[[IO[str]], int]) -> int:
    """Call ``write`` on a file beside ``path``, then rename it into place, so a failure never
    leaves half a file under its name; returns what ``write`` returned (rows written)."""
    # A device or a pipe (/dev/stdout, a FIFO) is written into: renaming over it would swap the
    # node itself for a plain file. A link is kept, and the file it names replaced.
    direct = path.exists() and not path.is_file()
    if not direct and path.is_symlink():
        path = path.resolve()
    partial = path if direct else path.with_name(path.name + ".partial")
    try:
        with partial.open("w", newline="", encoding="utf-8") as handle:
            count = write(handle)
        if not direct:
            partial.replace(path)
    except BaseException as error:
        if not direct:
            partial.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise ActionError(f"cannot write {path}: {error.strerror or error}; "
                              "check the directory exists and is writable") from None
        raise
    return count
