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
  endpoint per integration code. This connector sends one request at a time and
  defaults to 80 a minute (4 800 an hour), under the point where Autotask starts
  slowing the database's other integrations down.
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
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from syncview.connectors.base import Connector, MalformedRow, Page, Setting, page_of
from syncview.connectors.http import HttpClient, StaticHeadersAuth, follow_next_urls
from syncview.domain import RemoteItem, ResourceType
from syncview.errors import AuthenticationError, ConnectorError

ZONE_LOOKUP_URL = "https://webservices.autotask.net/atservicesrest/v1.0/zoneInformation"
#: Requests per minute: under half of the 10 000 an hour a database allows all its integrations.
DEFAULT_RATE_LIMIT = 80.0
#: A filter every row passes: Autotask refuses a query without one.
EVERY_ROW = ({"op": "gte", "field": "id", "value": 0},)

Mapper = Callable[[dict[str, Any]], RemoteItem]


class AutotaskConnector(Connector):
    """Fetches companies, locations, configuration items and contacts from Autotask PSA."""

    kind: ClassVar[str] = "autotask"
    title: ClassVar[str] = "Autotask PSA"
    supports_incremental: ClassVar[bool] = True
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
    )
    #: Where the zone is looked up; an attribute so tests can point it at a fake server.
    zone_lookup_url: str = ZONE_LOOKUP_URL

    def __init__(
        self,
        integration: str,
        settings: dict[str, Any],
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(integration, settings)
        self._username = str(self.settings["username"]).strip()
        integration_code = str(self.settings["integration_code"]).strip()
        self._zone_ready = False
        # UserName goes as a plain header so that messages can name the API user that was
        # refused; the two secret headers are masked wherever they would appear.
        self.http = HttpClient.for_connector(
            self,
            auth=StaticHeadersAuth({"ApiIntegrationCode": integration_code, "Secret": str(self.settings["secret"])}),
            headers={"UserName": self._username, "Accept": "application/json"},
            default_rate_limit=DEFAULT_RATE_LIMIT,
            transport=transport, sleep=sleep, clock=clock,
            auth_hint="check username, integration_code and secret, and that the API user is active "
                      "with the API User security level",
        )

    def close(self) -> None:
        self.http.close()

    # ----------------------------------------------------------------- fetching

    def fetch(self, since: datetime | None = None) -> Iterator[Page]:
        """Companies, locations, configuration items, contacts; the last two only if changed after ``since``."""
        self._discover_zone()
        names: dict[int, str] = {}

        def client(row: dict[str, Any]) -> RemoteItem:
            item = _company_item(row)
            names[int(item.external_id)] = item.name
            return item

        def owned(mapper: Callable[[dict[str, Any], str | None], RemoteItem]) -> Mapper:
            """``mapper`` with the row's company name, looked up by its companyID."""
            def mapped(row: dict[str, Any]) -> RemoteItem:
                company_id = row.get("companyID")
                return mapper(row, names.get(company_id) if isinstance(company_id, int) else None)

            return mapped

        yield from self._query("Companies", "companies", client, EVERY_ROW)
        yield from self._query("CompanyLocations", "sites", owned(_location_item), EVERY_ROW)
        yield from self._query("ConfigurationItems", "devices", owned(_device_item),
                               _changed_since("lastModifiedTime", since))
        yield from self._query("Contacts", "contacts", owned(_contact_item),
                               _changed_since("lastModifiedDate", since))

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

    def _query(self, entity: str, label: str, mapper: Mapper, filters: tuple[dict[str, Any], ...]) -> Iterator[Page]:
        """One Page per API page of ``entity``'s query, following ``nextPageUrl``."""
        search = {"filter": list(filters)}
        total = self._count(entity, search)
        pages = follow_next_urls(self.http, "POST", f"V1.0/{entity}/query", json=search, next_url=_next_page_url)
        for number, body in enumerate(pages, start=1):
            rows = body.get("items")
            # Checked before the next page is asked for, so a broken answer stops here, named.
            if not isinstance(rows, list) or not isinstance(body.get("pageDetails"), dict):
                missing = "an items list" if not isinstance(rows, list) else "pageDetails"
                raise ConnectorError(self.http.redact(
                    f"{self.integration}: Autotask answered page {number} of {entity} without {missing}; "
                    "the Autotask API may have changed, or a proxy answered instead of it"))
            page = page_of(rows, label, mapper)
            page.total = total
            page.warnings.extend(_orphans(page.items))
            yield page

    def _count(self, entity: str, search: dict[str, Any]) -> int | None:
        """How many rows the query will give, for progress; None if Autotask does not say."""
        body = self.http.post_json(f"V1.0/{entity}/query/count", json=search, expect=dict)
        count = body.get("queryCount")
        return count if isinstance(count, int) and not isinstance(count, bool) else None


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


def _require_id(row: dict[str, Any]) -> int:
    ident = row.get("id")
    if isinstance(ident, bool) or not isinstance(ident, int):
        raise MalformedRow("it has no numeric id")
    return ident


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
    return RemoteItem(ResourceType.DEVICE, str(ident), name, remote_company=company, payload=row)


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
    return RemoteItem(ResourceType.CONTACT, str(ident), name, remote_company=company, payload=payload)
