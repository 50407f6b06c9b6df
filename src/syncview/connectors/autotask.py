"""Autotask PSA connector, on the Autotask REST API v1.0.

What the vendor documents and this module relies on:

- Each Autotask database lives in a zone. ``GET https://webservices.autotask.net/
  atservicesrest/v1.0/zoneInformation?user=<username>`` needs no credentials and
  answers the zone's API root in ``url`` (``https://webservices{N}.autotask.net/
  ATServicesRest/``). The ``zone_url`` setting skips the lookup.
- Every request carries three headers: ``ApiIntegrationCode`` (the API user's
  tracking identifier), ``UserName`` and ``Secret``.
- Lists are queries: ``POST {zone}V1.0/{Entity}/query`` with a JSON filter
  (``id gte 0`` means "all"), answered as ``{"items": [...], "pageDetails":
  {"count", "requestCount", "prevPageUrl", "nextPageUrl"}}``, 500 items a page;
  the next page is a GET of ``nextPageUrl``. ``.../query/count`` gives the total.
- Limits: 10 000 requests an hour per database, shared by every integration on
  it, with latency added from half of that on; at most 3 concurrent requests per
  endpoint per integration code. This connector defaults to 4 800 an hour (under half,
  where Autotask starts adding latency to every integration of the database) and 3 at
  once per entity (``connectors/limits.py``); ``rate_limit`` (a minute) and
  ``concurrency`` lower them for a database other integrations share. ``GET
  V1.0/ThresholdInformation`` says how many requests the database has had this hour, from
  every integration on it: the doctor shows it (:meth:`AutotaskConnector.usage`). Entities are
  queried at once (each its own endpoint). ``nextPageUrl`` is the only way to a query's next
  page, so one query's pages come one after the other; a large entity is therefore split
  into id ranges queried at once (see below), up to its 3 requests at once.
- Rows come in ascending id order (a query's pages page on by the last id seen), and filters
  take ``gt``/``lte`` on ``id``.

Id ranges: an entity's count (``query/count``, sent with its first page) and its first page
say how many rows are left and how densely their ids lie (from the second half of the page:
the MSP's own company 0 would skew the first). When more than one page is left, the ids after
the first page are split into up to 3 ranges of about as many rows each, the last one open
(``id gt`` the last bound alone), so a wrong estimate only makes one range longer, never
loses a row; each range is one query paged by its own ``nextPageUrl``, and their pages are
handed on as they come. The cost is at most one short page per range more than one query
would send. A first page out of id order (Autotask's answer changed?) is paged on as one
query, as before.
- Times are UTC. ``Companies.lastActivityDate``, ``ConfigurationItems.lastModifiedTime``
  and ``Contacts.lastModifiedDate`` record changes; ``CompanyLocations`` has no
  change time at all.

Entities: Companies become clients, CompanyLocations sites, ConfigurationItems
devices and Contacts contacts. Rows name their company only by ``companyID``, so
companies come first and their names are kept (id -> name only) for the rest.

Incremental fetch (``since``): configuration items and contacts are queried by
their change time, and those are the bulk of a database. Companies are still
listed whole, because every later row needs its company's name and a company
that did not change still owns rows that did; locations are listed whole because
Autotask gives them no change time. Every changed item is therefore fetched.
Deletions: after an incremental fetch, :meth:`live_ids` queries each entity for its
ids alone (``IncludeFields``), under the same scope filters.

What syncs (the scope settings): companies whose ``companyType`` is in
``company_types`` (default Customer; leads, prospects, dead, cancelled and vendor
companies stay out) and that are active (``isActive``), with their active locations,
configuration items and contacts. Items of a company left out stay out too, so the
company scope is judged here (the companies pass knows which ones it left out); the
items' ``isActive`` is filtered in the request. ``include_inactive`` syncs inactive
companies and items too.

Identity keys, copied as sent: a configuration item's ``serialNumber``; from the RMM
audit Autotask keeps (Datto RMM writes it), ``rmmDeviceAuditHostname`` as host name,
the MACs of ``rmmDeviceAuditMacAddress`` (a list Autotask writes ``[mac, mac]``), and
``rmmDeviceUID`` as the Datto RMM device it is. A contact's ``emailAddress``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from syncview.connectors.base import IdPage, MalformedRow, Page, Setting, page_of
from syncview.connectors.http import HttpClient, HttpConnector, StaticHeadersAuth, follow_next_urls
from syncview.connectors.parallel import Prefetch, interleaved
from syncview.domain import IdentityKeys, RemoteItem, ResourceType, xref
from syncview.errors import AuthenticationError, ConfigError, ConnectorError

ZONE_LOOKUP_URL = "https://webservices.autotask.net/atservicesrest/v1.0/zoneInformation"
#: A filter every row passes: Autotask refuses a query without one.
EVERY_ROW = ({"op": "gte", "field": "id", "value": 0},)

Mapper = Callable[[dict[str, Any]], RemoteItem | list[RemoteItem]]
#: Autotask's standard company types (the Companies.companyType picklist).
COMPANY_TYPES = {"customer": 1, "lead": 2, "prospect": 3, "dead": 4, "cancellation": 6, "vendor": 7, "partner": 8}
#: entity -> (item type, label, field of the change time or None, how isActive reads when true)
_ENTITIES: dict[str, tuple[ResourceType, str, str | None, Any]] = {
    "Companies": (ResourceType.CLIENT, "companies", None, True),
    "CompanyLocations": (ResourceType.SITE, "sites", None, True),
    "ConfigurationItems": (ResourceType.DEVICE, "devices", "lastModifiedTime", True),
    "Contacts": (ResourceType.CONTACT, "contacts", "lastModifiedDate", 1),  # contacts say 1/0
}


class AutotaskConnector(HttpConnector):
    """Fetches companies, locations, configuration items and contacts from Autotask PSA."""

    kind: ClassVar[str] = "autotask"
    title: ClassVar[str] = "Autotask PSA"
    supports_incremental: ClassVar[bool] = True
    supports_live_ids: ClassVar[bool] = True
    settings_schema: ClassVar[tuple[Setting, ...]] = (
        Setting("username", help="the API user's username, e.g. sync-api@yourmsp.com"),
        # Secret too: with the username it is two thirds of the credential, and it may be
        # an MSP's own tracking identifier rather than a vendor's published one.
        Setting("integration_code", secret=True,
                help="the API user's API tracking identifier (sent as ApiIntegrationCode)"),
        Setting("secret", secret=True, help="the API user's secret"),
        Setting("zone_url", "url", required=False,
                help="your zone's API root, e.g. https://webservices5.autotask.net/ATServicesRest/; "
                     "looked up from username when not set"),
        Setting("company_types", "list", required=False, default=("Customer",),
                help="company types to sync: Customer, Lead, Prospect, Dead, Cancellation, Vendor, Partner, "
                     "or a type's picklist number for one of your own"),
        Setting("include_inactive", "bool", required=False, default=False,
                help="also sync inactive companies, locations, configuration items and contacts"),
    )
    #: Where the zone is looked up; an attribute so tests can point it at a fake server.
    zone_lookup_url: str = ZONE_LOOKUP_URL

    def configure(self) -> HttpClient:
        self._username = str(self.settings["username"]).strip()
        integration_code = str(self.settings["integration_code"]).strip()
        self._types = _company_types(self.integration, self.setting("company_types"))
        self._active_only = not self.setting("include_inactive")
        #: companies the scope left out, so that their items stay out too
        self._left_out: set[int] = set()
        self._zone_ready = False
        # UserName goes as a plain header so that messages can name the API user that was
        # refused; the two secret headers are masked wherever they would appear.
        return self.client(
            auth=StaticHeadersAuth({"ApiIntegrationCode": integration_code, "Secret": str(self.settings["secret"])}),
            headers={"UserName": self._username, "Accept": "application/json"},
            endpoint=_endpoint,
            auth_hint="check username, integration_code and secret, and that the API user is active "
                      "with the API User security level",
        )

    def account(self) -> str:
        # Autotask counts 10 000 requests an hour per database, and an API user belongs to one
        # (the zone lookup finds it by the user alone); 3 at once per endpoint per integration
        # code, and a user has one. Two users of one database: the operator's rate_account.
        return f"Autotask user {str(self.settings['username']).strip().lower()}"

    def usage(self) -> str | None:
        """The database's requests this hour, as Autotask counts them: every integration's, not only
        syncview's (``GET V1.0/ThresholdInformation``)."""
        self._discover_zone()
        try:
            body = self.http.get_json("V1.0/ThresholdInformation", expect=dict)
        except ConnectorError as error:
            self.http.log(logging.INFO, "%s: no request count from Autotask: %s", self.integration, error)
            return None
        numbers = [body.get(key) for key in ("currentTimeframeRequestCount", "externalRequestThreshold",
                                             "requestThresholdTimeframe")]
        if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in numbers) or not numbers[1]:
            return None
        used, threshold, minutes = numbers
        window = "hour" if minutes == 60 else f"{minutes} minutes"
        line = f"the database has used {used:,} of its {threshold:,} requests this {window}"
        if used >= threshold // 2:
            line += " (from half on, Autotask slows every integration of the database down)"
        return line

    # ----------------------------------------------------------------- fetching

    def fetch(self, since: datetime | None = None) -> Iterator[Page]:
        """Companies, locations, configuration items, contacts; the last two only if changed after ``since``."""
        self._discover_zone()
        names: dict[int, str] = {}

        def client(row: dict[str, Any]) -> list[RemoteItem]:
            inside = self._judge(row)  # first: a company skipped for want of a name is still judged
            item = _company_item(row)
            if not inside:
                return []
            names[int(item.external_id)] = item.name
            return [item]

        def owned(mapper: Callable[[dict[str, Any], str | None], RemoteItem]) -> Mapper:
            """``mapper`` with the row's company name, looked up by its companyID; nothing for a
            row of a company the scope left out."""
            def mapped(row: dict[str, Any]) -> list[RemoteItem]:
                company_id = row.get("companyID")
                if company_id in self._left_out:
                    return []
                return [mapper(row, names.get(company_id) if isinstance(company_id, int) else None)]

            return mapped

        mappers = {"Companies": client, "CompanyLocations": owned(_location_item),
                   "ConfigurationItems": owned(_device_item), "Contacts": owned(_contact_item)}
        for entity, rows, total in self._at_once({entity: {"filter": list(self._filters(entity, since))}
                                                  for entity in _ENTITIES}, count=True):
            page = page_of(rows, _ENTITIES[entity][1], mappers[entity])
            page.total = total
            page.warnings.extend(_orphans(page.items))
            yield page

    def live_ids(self) -> Iterator[IdPage]:
        """The ids of every entity in scope now, each query asking for the fields scope needs alone."""
        self._discover_zone()
        searches = {entity: {"IncludeFields": ["id", "companyType", "isActive"] if entity == "Companies"
                             else ["id", "companyID"], "filter": list(self._filters(entity, None))}
                    for entity in _ENTITIES}
        for entity, rows, _ in self._at_once(searches, count=False):
            if entity == "Companies":
                ids = [str(row["id"]) for row in rows if _has_id(row) and self._judge(row)]
            else:
                ids = [str(row["id"]) for row in rows if _has_id(row) and row.get("companyID") not in self._left_out]
            yield IdPage(_ENTITIES[entity][0], ids)

    def _at_once(self, searches: dict[str, dict[str, Any]], *,
                 count: bool) -> Iterator[tuple[str, list[Any], int | None]]:
        """(entity, rows, total) for each page of each entity's query, entity after entity.

        Each entity is its own endpoint, with its own 3 requests at once: from the first page of
        the first entity on (the credentials proven), the others are queried at the same time,
        on threads of their own, and handed on in order. The caller maps rows as they come, so
        companies are judged before their items.
        """
        def pages(entity: str) -> Iterator[tuple[str, list[Any], int | None]]:
            for rows, total in self._ranged(entity, searches[entity], count=count):
                yield entity, rows, total if count else None

        first, *rest = searches
        with ExitStack() as stack:
            later: list[Iterable[tuple[str, list[Any], int | None]]] = []
            for page in pages(first):
                if not later:
                    later = [stack.enter_context(Prefetch(pages(entity), buffer=4, name=f"autotask-{entity}"))
                             for entity in rest]
                yield page
            for listing in later or [pages(entity) for entity in rest]:
                yield from listing

    def _filters(self, entity: str, since: datetime | None) -> tuple[dict[str, Any], ...]:
        """An entity's query filter: changed after ``since`` when given and the entity records a
        change time (companies and locations come whole), active only unless ``include_inactive``.
        Companies are judged on the rows instead (see the module doc)."""
        changed = _ENTITIES[entity][2]
        filters = _changed_since(changed, since) if changed and since else ()
        if self._active_only and entity != "Companies":
            filters += ({"op": "eq", "field": "isActive", "value": _ENTITIES[entity][3]},)
        return filters or EVERY_ROW

    def _judge(self, row: dict[str, Any]) -> bool:
        """Whether a company row is in scope; remembers the ones that are not."""
        inside = row.get("companyType") in self._types and (not self._active_only or row.get("isActive") is True)
        if _has_id(row):
            (self._left_out.discard if inside else self._left_out.add)(row["id"])
        return inside

    def _discover_zone(self) -> None:
        """Point the client at the database's zone, looking it up once."""
        if self._zone_ready:
            return
        zone = self.settings.get("zone_url") or self._lookup_zone()
        self.http.base_url = str(zone).rstrip("/") + "/"
        self._zone_ready = True

    def _lookup_zone(self) -> str:
        # The lookup is public: the secret is not sent where it is not needed.
        response = self.http.get(self.zone_lookup_url, params={"user": self._username}, auth=None, check=False)
        if response.status_code in (400, 401, 403, 404):
            raise AuthenticationError(self.http.redact(
                f"authentication failed for {self.integration}: Autotask knows no API user {self._username!r} "
                f"(the zone lookup answered {response.status_code}); check username, or set zone_url"))
        if response.status_code >= 300:
            raise self.http.error_for(response)
        body = self.http.decode_json(response, expect=dict)
        zone = body.get("url")
        if not isinstance(zone, str) or not zone.startswith(("https://", "http://")):
            raise self.http.shape_error(response, "a zone answer without a url")
        self.http.log(logging.INFO, "%s: Autotask zone %s is %s", self.integration, body.get("zoneName", "?"), zone)
        return zone

    def _rows(self, entity: str, search: dict[str, Any]) -> Generator[tuple[list[Any], bool], None, None]:
        """The rows of each page of ``entity``'s query, following ``nextPageUrl``, and whether
        the page names a next one."""
        pages = follow_next_urls(self.http, "POST", f"V1.0/{entity}/query", json=search, next_url=_next_page_url)
        for number, body in enumerate(pages, start=1):
            rows = body.get("items")
            # Checked before the next page is asked for, so a broken answer stops here, named.
            if not isinstance(rows, list) or not isinstance(body.get("pageDetails"), dict):
                missing = "an items list" if not isinstance(rows, list) else "pageDetails"
                raise ConnectorError(self.http.redact(
                    f"{self.integration}: Autotask answered page {number} of {entity} without {missing}; "
                    "the Autotask API may have changed, or a proxy answered instead of it"))
            yield rows, _next_page_url(body) is not None

    def _ranged(self, entity: str, search: dict[str, Any], *, count: bool) -> Iterator[tuple[list[Any], int | None]]:
        """(rows, total) for each page of ``entity``'s query, its ids after the first page split
        into ranges queried at once when more than a page is left (see the module doc).

        With ``count`` the count is asked for beside the first page (the caller shows the total);
        without, only once the first page shows that more are left.
        """
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"autotask-count-{entity}") as pool:
            counted = pool.submit(self._count, entity, search) if count else None
            first_query = self._rows(entity, search)
            try:
                first, more = next(first_query, ([], False))
                total = counted.result() if counted is not None else None
                ranges = self._ranges(first, total if total is not None or not more else self._count(entity, search),
                                      self.http.limits.concurrency or 3) if more else []
                if not ranges:
                    yield first, total
                    for rows, _ in first_query:
                        yield rows, total
                    return
            finally:
                first_query.close()
        yield first, total
        queries = [self._rows(entity, {**search, "filter": [*search["filter"], *bounds]}) for bounds in ranges]
        for rows, _ in interleaved(queries, buffer=2 * len(queries), name=f"autotask-{entity}"):
            yield rows, total

    def _ranges(self, first: list[Any], total: int | None, parts: int) -> list[list[dict[str, Any]]]:
        """The id filters of up to ``parts`` ranges that cover the ids after ``first`` (the first
        page, in ascending id order), about as many rows each; none when splitting cannot pay
        (a page or less left, an unknown total, a page out of order)."""
        if total is None or len(first) < 2 or not all(_has_id(row) for row in first):
            return []
        ids: list[int] = [row["id"] for row in first]
        if ids != sorted(ids):
            return []
        left = total - len(ids)
        pages_left = -(-left // len(ids))
        parts = min(parts, pages_left)
        if parts < 2:
            return []
        # Density from the page's second half: the first rows can be outliers (company 0).
        half = ids[len(ids) // 2:]
        spread = max(1, half[-1] - half[0])
        span = left * spread / max(1, len(half) - 1)
        last = ids[-1]
        bounds = sorted({last + round(span * n / parts) for n in range(parts)})
        ranges = [[{"op": "gt", "field": "id", "value": low}, {"op": "lte", "field": "id", "value": high}]
                  for low, high in zip(bounds, bounds[1:])]
        ranges.append([{"op": "gt", "field": "id", "value": bounds[-1]}])
        return ranges

    def _count(self, entity: str, search: dict[str, Any]) -> int | None:
        """How many rows the query will give, for progress; None if Autotask does not say."""
        body = self.http.post_json(f"V1.0/{entity}/query/count", json=search, expect=dict)
        count = body.get("queryCount")
        return count if isinstance(count, int) and not isinstance(count, bool) else None


def _endpoint(request: httpx.Request) -> str:
    """The endpoint Autotask counts concurrency on: the entity (its query, count and next pages)."""
    parts = request.url.path.lower().split("/")
    return parts[parts.index("v1.0") + 1] if "v1.0" in parts[:-1] else request.url.path


def _next_page_url(body: dict[str, Any]) -> str | None:
    link = body["pageDetails"].get("nextPageUrl")  # _query checked pageDetails before this runs
    return link if isinstance(link, str) and link else None


def _changed_since(field: str, since: datetime | None) -> tuple[dict[str, Any], ...]:
    """A filter for rows whose ``field`` is after ``since``; every row when ``since`` is None.

    Seconds are truncated, which can only widen the window: a row changed in the
    same second as the last sync is fetched again rather than missed.
    """
    if since is None:
        return EVERY_ROW
    moment = (since if since.tzinfo else since.astimezone()).astimezone(UTC)
    return ({"op": "gt", "field": field, "value": moment.strftime("%Y-%m-%dT%H:%M:%SZ")},)


# --------------------------------------------------------------------------- mapping rows


def _orphans(items: list[RemoteItem]) -> list[str]:
    """Warnings for items whose company the companies pass did not list (created during the sync?).

    They are kept: the item is real, it only lacks a remote company until the next sync.
    """
    return [f"{item.type.value} {item.name!r} (id {item.external_id}) belongs to company "
            f"{item.payload.get('companyID')}, which Autotask did not list; it has no remote company this time"
            for item in items if item.type is not ResourceType.CLIENT and item.remote_company is None]


def _company_types(integration: str, names: Any) -> frozenset[int]:
    """The company_types setting as picklist numbers; an unknown name is a config error."""
    numbers = set()
    for name in names or ():
        key = str(name).strip().casefold()
        if key.isdigit():
            numbers.add(int(key))
        elif key in COMPANY_TYPES:
            numbers.add(COMPANY_TYPES[key])
        else:
            known = ", ".join(n.capitalize() for n in COMPANY_TYPES)
            raise ConfigError(f'integration "{integration}": company_types: unknown company type {name!r}; '
                              f"use {known}, or a type's picklist number")
    return frozenset(numbers)


def _has_id(row: Any) -> bool:
    ident = row.get("id") if isinstance(row, dict) else None
    return isinstance(ident, int) and not isinstance(ident, bool)


def _require_id(row: dict[str, Any]) -> int:
    ident = row.get("id")
    if not _has_id(row) or not isinstance(ident, int):
        raise MalformedRow("it has no numeric id")
    return ident


def _macs(value: Any) -> tuple[str, ...]:
    """The addresses of rmmDeviceAuditMacAddress, which Autotask writes as a list: ``[a, b]``."""
    if not isinstance(value, str):
        return ()
    return tuple(part.strip() for part in value.strip().strip("[]").replace(";", ",").split(",") if part.strip())


def _text(row: dict[str, Any], *keys: str) -> str | None:
    """The first non-blank string among ``keys``, stripped."""
    for key in keys:
        value = row.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _company_item(row: dict[str, Any]) -> RemoteItem:
    ident = _require_id(row)
    name = _text(row, "companyName")
    if name is None:
        raise MalformedRow("it has no companyName")
    return RemoteItem(ResourceType.CLIENT, str(ident), name, remote_company=name, payload=row)


def _location_item(row: dict[str, Any], company: str | None) -> RemoteItem:
    ident = _require_id(row)
    name = _text(row, "name")
    if name is None:
        raise MalformedRow("it has no name")
    return RemoteItem(ResourceType.SITE, str(ident), name, remote_company=company, payload=row)


def _device_item(row: dict[str, Any], company: str | None) -> RemoteItem:
    ident = _require_id(row)
    # referenceTitle is the device name in the UI; devices an RMM created may only carry
    # the audited hostname, and hand-made ones sometimes just a serial number.
    name = _text(row, "referenceTitle", "rmmDeviceAuditHostname", "serialNumber", "referenceNumber")
    if name is None:
        raise MalformedRow("it has no referenceTitle, hostname or serial number to name it by")
    rmm_uid = _text(row, "rmmDeviceUID")
    keys = IdentityKeys(serial=_text(row, "serialNumber"), macs=_macs(row.get("rmmDeviceAuditMacAddress")),
                        hostname=_text(row, "rmmDeviceAuditHostname"),
                        xrefs=(xref("datto_rmm", ResourceType.DEVICE, rmm_uid),) if rmm_uid else ())
    return RemoteItem(ResourceType.DEVICE, str(ident), name, remote_company=company, payload=row, keys=keys)


def _contact_item(row: dict[str, Any], company: str | None) -> RemoteItem:
    ident = _require_id(row)
    name = " ".join(part for part in (_text(row, "firstName"), _text(row, "lastName")) if part) or _text(
        row, "emailAddress")
    if not name:
        raise MalformedRow("it has no first name, last name or email address")
    payload = dict(row)
    if isinstance(row.get("isActive"), int):
        # Contacts alone answer isActive as 1/0; the payload shows it as the other entities do.
        payload["isActive"] = bool(row["isActive"])
    return RemoteItem(ResourceType.CONTACT, str(ident), name, remote_company=company, payload=payload,
                      keys=IdentityKeys(email=_text(row, "emailAddress")))
