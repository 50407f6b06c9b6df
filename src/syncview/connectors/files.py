"""The files connector: remote resources read from a CSV or JSON export, for offline review.

Column mapping (the ``[[integrations]]`` settings, defaults in brackets):

============== =======================================================================
path           the export file (required)
format         ``csv`` or ``json`` [from the file's suffix: .csv, .json, .jsonl, .ndjson]
type           the resource type of every row, for a file of one kind of thing; when set,
               ``type_column`` is not read [unset]
id_column      the item's id in the source system [``id``]
name_column    its name [``name``]
type_column    client, site, device or contact (plurals and any case accepted) [``type``]
company_column the remote company (client) it belongs to [``company``]; a file without
               that column gives items no company, so only client items can match
serial_column  a device's serial number [unset]
mac_column     a device's MAC addresses, several separated by ``;`` or ``,`` [unset]
hostname_column a device's host name [unset]
email_column   a contact's e-mail address [unset]
============== =======================================================================

The four key columns are identity keys besides the name, copied as written: the core
normalises them and ignores placeholders. Each is optional; one that is set must be
a column of a CSV file's header.

CSV files are UTF-8 (a BOM is fine), with a header row; the delimiter (``,`` ``;``
tab or ``|``) is detected. JSON files hold either one array of objects or one
object per line (JSON Lines); in JSON a column may be a dotted path into nested
objects (``company.name``). Every row's fields become the resource's payload.

Rows that cannot be an item (no id, no name, an unknown type, an id seen before)
are skipped and reported as page warnings naming the row and why. A missing or
unreadable file, or one that is not UTF-8, raises :class:`ConnectorError`.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, TextIO

from syncview.connectors.base import Connector, Page, Setting
from syncview.domain import IdentityKeys, RemoteItem, ResourceType, parse_resource_type
from syncview.errors import ConfigError, ConnectorError

FORMATS = ("csv", "json")
_SUFFIXES = {".csv": "csv", ".json": "json", ".jsonl": "json", ".ndjson": "json"}
#: Enough of a CSV file to detect its delimiter.
_SNIFF_BYTES = 64 * 1024
#: Settings naming an identity key's column, in the order the docs list them.
KEY_COLUMNS = ("serial_column", "mac_column", "hostname_column", "email_column")
_MAC_SEPARATORS = re.compile(r"[;,]")


class FilesConnector(Connector):
    """Reads resources from a CSV or JSON file, page by page, without loading a CSV whole."""

    kind: ClassVar[str] = "files"
    title: ClassVar[str] = "File import (CSV/JSON)"
    settings_schema: ClassVar[tuple[Setting, ...]] = (
        Setting("path", "path", help="the CSV or JSON export to read"),
        Setting("format", required=False, help='"csv" or "json"; default: from the file name\'s suffix'),
        Setting("type", required=False,
                help="resource type of every row (client, site, device, contact) when the file has no type column"),
        Setting("id_column", required=False, default="id", help="column (CSV) or field (JSON) holding the item's id"),
        Setting("name_column", required=False, default="name", help="column or field holding the item's name"),
        Setting("type_column", required=False, default="type",
                help="column or field holding client, site, device or contact"),
        Setting("company_column", required=False, default="company",
                help="column or field holding the remote company (client) the item belongs to"),
        Setting("serial_column", required=False, help="column or field holding a device's serial number"),
        Setting("mac_column", required=False,
                help="column or field holding a device's MAC addresses, several separated by ; or ,"),
        Setting("hostname_column", required=False, help="column or field holding a device's host name"),
        Setting("email_column", required=False, help="column or field holding a contact's e-mail address"),
    )

    #: Items per page; each page is one write transaction of the sync engine.
    page_size: int = 5_000

    def __init__(self, integration: str, settings: Mapping[str, Any]) -> None:
        super().__init__(integration, settings)
        where = f'integration "{integration}"'
        if not self.settings.get("path"):
            raise ConfigError(f"{where}: path is missing; set it to the export file to read")
        self.path = Path(str(self.settings["path"])).expanduser()
        fmt = self.settings.get("format") or _SUFFIXES.get(self.path.suffix.lower())
        if fmt is None:
            raise ConfigError(f'{where}: cannot tell the format of {self.path} from its name; set format = "csv" '
                              f'or format = "json"')
        if fmt not in FORMATS:
            raise ConfigError(f'{where}: format must be "csv" or "json", got {fmt!r}')
        self.format: str = fmt
        self.fixed_type: ResourceType | None = None
        if self.settings.get("type"):
            try:
                self.fixed_type = parse_resource_type(str(self.settings["type"]))
            except ValueError as error:
                raise ConfigError(f"{where}: type: {error}") from None
        self.id_column = str(self.settings.get("id_column") or "id")
        self.name_column = str(self.settings.get("name_column") or "name")
        self.type_column = str(self.settings.get("type_column") or "type")
        self.company_column = str(self.settings.get("company_column") or "company")
        #: setting -> column, for the identity key columns that are set
        self.key_columns = {name: str(self.settings[name]) for name in KEY_COLUMNS if self.settings.get(name)}
        #: set per fetch: a CSV header without the company column
        self._company_missing = False

    def fetch(self, since: datetime | None = None) -> Iterator[Page]:
        """Every row of the file as a remote item (a file has no change dates: ``since`` is ignored)."""
        self._company_missing = False
        rows = self._csv_rows() if self.format == "csv" else self._json_rows()
        builder = _ItemBuilder(self)
        page = Page([], entity=self.path.name)
        for label, row in rows:
            problem = builder.add(label, row, page.items)
            if problem:
                page.warnings.append(problem)
            if len(page.items) >= self.page_size:
                yield page
                page = Page([], entity=self.path.name)
        if page.items or page.warnings:
            yield page

    # ------------------------------------------------------------------ reading

    def _open(self) -> TextIO:
        try:
            # utf-8-sig: spreadsheet programs start their UTF-8 exports with a BOM.
            return self.path.open(encoding="utf-8-sig", newline="")
        except FileNotFoundError:
            raise ConnectorError(f"{self.integration}: the file {self.path} does not exist; "
                                 "check path in the integration's config") from None
        except IsADirectoryError:
            raise ConnectorError(f"{self.integration}: {self.path} is a directory; path must name a file") from None
        except OSError as error:
            raise ConnectorError(f"{self.integration}: cannot read {self.path}: {error.strerror or error}") from None

    def _not_utf8(self, error: UnicodeDecodeError) -> ConnectorError:
        return ConnectorError(f"{self.integration}: {self.path} is not UTF-8 text (byte 0x{error.object[error.start]:02x} "
                              f"cannot be decoded); export it again as UTF-8")

    def _csv_rows(self) -> Iterator[tuple[str, dict[str, Any]]]:
        with self._open() as handle:
            try:
                sample = handle.read(_SNIFF_BYTES)
                handle.seek(0)
                try:
                    dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t|")
                except csv.Error:
                    dialect = csv.excel  # one column, or nothing to tell by: the plain comma
                reader = csv.reader(handle, dialect)
                header = next(reader, None)
                if not header or not any(cell.strip() for cell in header):
                    raise ConnectorError(f"{self.integration}: {self.path} is empty; it needs a header row "
                                         f"naming its columns ({self.id_column}, {self.name_column}, ...)")
                header = [cell.strip() for cell in header]
                self._check_columns(header)
                width = len(header)
                for cells in reader:
                    label = f"row {reader.line_num}"
                    if not any(cells):
                        continue  # blank lines separate nothing in an export
                    if len(cells) > width:
                        yield label, {_UNREADABLE: f"has {len(cells)} fields but the header names {width}"}
                        continue
                    yield label, dict(zip(header, cells))
            except UnicodeDecodeError as error:
                raise self._not_utf8(error) from None
            except csv.Error as error:
                raise ConnectorError(f"{self.integration}: {self.path} is not valid CSV at line "
                                     f"{reader.line_num}: {error}") from None

    def _check_columns(self, header: list[str]) -> None:
        needed = [("id_column", self.id_column), ("name_column", self.name_column)]
        if self.fixed_type is None:
            needed.append(("type_column", self.type_column))
        needed += self.key_columns.items()
        for setting, column in needed:
            if column not in header:
                hint = " (or set type for a file of one kind of item)" if setting == "type_column" else ""
                raise ConnectorError(f'{self.integration}: {self.path} has no column "{column}"; its columns are '
                                     f"{', '.join(header)}: set {setting} to the right one{hint}")
        self._company_missing = self.company_column not in header  # reported once, by _ItemBuilder

    def _json_rows(self) -> Iterator[tuple[str, Any]]:
        with self._open() as handle:
            try:
                start = handle.read(1)
                while start and start.isspace():
                    start = handle.read(1)
                if not start:
                    raise ConnectorError(f"{self.integration}: {self.path} is empty; it should hold a JSON array "
                                         "of objects or one object per line")
                if start == "[":
                    # A JSON array is parsed whole (the json module cannot stream); JSON Lines stream.
                    try:
                        data = json.loads(start + handle.read())
                    except json.JSONDecodeError as error:
                        raise ConnectorError(f"{self.integration}: {self.path} is not valid JSON at line "
                                             f"{error.lineno}, column {error.colno}: {error.msg}") from None
                    for number, row in enumerate(data, start=1):
                        yield f"item {number}", row
                    return
                first_line = start + handle.readline()
                for number, line in enumerate(_chain_first(first_line, handle), start=1):
                    if not line.strip():
                        continue
                    try:
                        yield f"line {number}", json.loads(line)
                    except json.JSONDecodeError as error:
                        if number == 1:
                            raise ConnectorError(
                                f"{self.integration}: {self.path} is neither a JSON array nor JSON Lines "
                                f"(line 1: {error.msg}); export an array of objects or one object per line"
                            ) from None
                        yield f"line {number}", {_UNREADABLE: f"is not valid JSON ({error.msg})"}
            except UnicodeDecodeError as error:
                raise self._not_utf8(error) from None


#: Key of a row that could not be read at all; its value says why.
_UNREADABLE = "\x00unreadable"


def _chain_first(first: str, rest: TextIO) -> Iterator[str]:
    yield first
    yield from rest


def _field(row: Mapping[str, Any], column: str) -> Any:
    """A row's value for ``column``; in JSON, a dotted path reaches into nested objects."""
    if column in row:
        return row[column]
    value: Any = row
    for part in column.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _text(value: Any) -> str:
    """A cell as text: numbers as written (an id of 42, not 42.0), nothing as empty."""
    if value is None or isinstance(value, dict | list):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


class _ItemBuilder:
    """Turns rows into items, saying why a row cannot be one."""

    def __init__(self, connector: FilesConnector) -> None:
        self.c = connector
        #: (type, id) -> label of the row that had it first
        self.seen: dict[tuple[ResourceType, str], str] = {}
        self.warned_company = False

    def add(self, label: str, row: Any, items: list[RemoteItem]) -> str | None:
        """Append the row's item to ``items``; the reason it was skipped otherwise."""
        c = self.c
        if not isinstance(row, Mapping):
            return f"{label} skipped: not an object but {type(row).__name__}"
        if _UNREADABLE in row:
            return f"{label} skipped: {row[_UNREADABLE]}"
        external_id = _text(_field(row, c.id_column))
        if not external_id:
            return f'{label} skipped: no id (column "{c.id_column}" is empty)'
        name = _text(_field(row, c.name_column))
        if not name:
            return f'{label} skipped: id {external_id} has no name (column "{c.name_column}" is empty)'
        if c.fixed_type is not None:
            type_ = c.fixed_type
        else:
            raw_type = _text(_field(row, c.type_column))
            try:
                type_ = parse_resource_type(raw_type)
            except ValueError:
                kinds = ", ".join(t.value for t in ResourceType)
                return f'{label} skipped: {name!r} has type {raw_type!r}; expected one of {kinds}'
        earlier = self.seen.get((type_, external_id))
        if earlier is not None:
            return f"{label} skipped: {type_.value} id {external_id} was already read at {earlier}"
        self.seen[(type_, external_id)] = label
        company = "" if c._company_missing else _text(_field(row, c.company_column))
        problem = None
        if c._company_missing and not self.warned_company:
            self.warned_company = True
            problem = (f'the file has no column "{c.company_column}": items have no remote company, so only '
                       f"client items can match (set company_column to the right one)")
        items.append(RemoteItem(type_, external_id, name, company or None, dict(row), keys=self.keys(row)))
        return problem

    def keys(self, row: Mapping[str, Any]) -> IdentityKeys:
        """The row's identity keys from the key columns that are set, as written."""
        found = {name: _text(_field(row, column)) for name, column in self.c.key_columns.items()}
        if not any(found.values()):
            return IdentityKeys()
        macs = tuple(m.strip() for m in _MAC_SEPARATORS.split(found.get("mac_column") or "") if m.strip())
        return IdentityKeys(serial=found.get("serial_column") or None, macs=macs,
                            hostname=found.get("hostname_column") or None, email=found.get("email_column") or None)
