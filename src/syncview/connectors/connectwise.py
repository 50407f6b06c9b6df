"""ConnectWise Manage (PSA) connector, on the REST API 3.0.

What the vendor documents and this module relies on:

- The API lives at ``https://{site}/{codebase}apis/3.0/``; the codebase (e.g.
  ``v2025_1/``) comes from the public ``GET https://{site}/login/companyinfo/{companyId}``
  (field ``Codebase``), and ``v4_6_release/`` still answers where that fails.
  The ``base_url`` setting gives the whole API URL instead and skips the lookup.
- Basic auth with user ``companyId+publicKey`` and password ``privateKey``, plus a
  ``clientId`` header identifying the integration.
- Lists take ``page`` (from 1) and ``pageSize`` (up to 1000) and announce the next
  page in a ``Link`` header (``rel="next"``). With the request header
  ``pagination-type: forward-only`` the next link carries a ``pageId`` cursor
  instead, which stays fast on very large tables.
- ``conditions=lastUpdated>[ISO time]`` filters on the change time, so
  ``fetch(since=...)`` only fetches what changed.
- Over its rate limit the API answers 429 with ``Retry-After`` (the HTTP layer waits).

Entities: companies become clients, their sites sites, configurations devices,
contacts contacts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from syncview.connectors.base import Connector, MalformedRow, Page, Setting, page_of
from syncview.connectors.http import BasicAuth, HttpClient, follow_links
from syncview.domain import RemoteItem, ResourceType

#: Where the API still answers when the codebase lookup fails (the long-lived legacy path).
FALLBACK_CODEBASE = "v4_6_release/"
MAX_PAGE_SIZE = 1000

Mapper = Callable[[dict[str, Any]], RemoteItem]


class ConnectWiseConnector(Connector):
    """Fetches companies, sites, configurations and contacts from ConnectWise Manage."""

    kind: ClassVar[str] = "connectwise"
    title: ClassVar[str] = "ConnectWise Manage"
    supports_incremental: ClassVar[bool] = True
    settings_schema: ClassVar[tuple[Setting, ...]] = (
        Setting("site", help="API host, e.g. api-na.myconnectwise.net; an on-premise server may be "
                             "given as a URL, e.g. http://cw.lan:8080"),
        Setting("company_id", help="the company id you sign in to ConnectWise Manage with"),
        Setting("public_key", help="public key of the API member's key pair"),
        Setting("private_key", secret=True, help="private key of the API member's key pair"),
        Setting("client_id", help="your integration's clientId from developer.connectwise.com"),
        Setting("page_size", "int", required=False, default=MAX_PAGE_SIZE,
                help=f"items per request, at most {MAX_PAGE_SIZE}"),
        Setting("forward_only", "bool", required=False, default=False,
                help="use forward-only (pageId) paging, faster on very large tables"),
        Setting("base_url", "url", required=False,
                help="the whole API URL, e.g. https://api-na.myconnectwise.net/v4_6_release/apis/3.0/; "
                     "skips the codebase lookup"),
    )

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
        site = str(self.settings["site"]).strip().rstrip("/")
        # A bare host is the cloud's https; an on-premise server may need its own scheme and port.
        self._root = site if site.startswith(("https://", "http://")) else f"https://{site}"
        self._api_url = self.settings.get("base_url")
        self._company_id = str(self.settings["company_id"]).strip()
        self._page_size = max(1, min(MAX_PAGE_SIZE, int(self.settings.get("page_size") or MAX_PAGE_SIZE)))
        self._api_ready = False
        auth = BasicAuth(
            f"{self._company_id}+{self.settings['public_key']}",
            str(self.settings["private_key"]),
            extra_headers={"clientId": str(self.settings["client_id"])},
        )
        self.http = HttpClient.for_connector(
            self, base_url=self._root, auth=auth, transport=transport, sleep=sleep, clock=clock,
            headers={"Accept": "application/json"},
            auth_hint="check company_id, public_key, private_key and client_id, and that the API member is active",
        )

    def close(self) -> None:
        self.http.close()

    # ----------------------------------------------------------------- fetching

    def fetch(self, since: datetime | None = None) -> Iterator[Page]:
        """Companies, then sites, configurations and contacts; only those changed after ``since`` if given."""
        self._discover_api()
        conditions = _changed_since(since)
        companies: dict[int, str | None] = {}

        def client(row: dict[str, Any]) -> RemoteItem:
            item = _company_item(row)
            companies[row["id"]] = item.name
            return item

        yield from self._list("company/companies", "companies", client, conditions)
        if since is not None:
            # Sites of a company that did not change may have: list every company, cheaply.
            companies = self._company_names()
        yield from self._sites(companies, conditions)
        yield from self._list("company/configurations", "configurations", _configuration_item, conditions)
        yield from self._list("company/contacts", "contacts", _contact_item, conditions)

    def _discover_api(self) -> None:
        """Point the client at the API: ``base_url`` as given, else ``{site}/{codebase}apis/3.0/``."""
        if self._api_ready:
            return
        if self._api_url:
            self.http.base_url = str(self._api_url).rstrip("/") + "/"
        else:
            codebase = self._lookup_codebase().strip("/") + "/"
            self.http.base_url = f"{self._root}/{codebase}apis/3.0/"
        self._api_ready = True

    def _lookup_codebase(self) -> str:
        # companyinfo is public: credentials are not sent where they are not needed.
        response = self.http.get(f"{self._root}/login/companyinfo/{self._company_id}", auth=None, check=False)
        codebase: str | None = None
        if response.status_code == 200:
            try:
                body = response.json()
            except ValueError:
                body = None
            if isinstance(body, dict) and isinstance(body.get("Codebase"), str) and body["Codebase"].strip("/"):
                codebase = body["Codebase"]
        if codebase is None:
            self.http.log(logging.WARNING, "%s: codebase lookup for company %s answered %d without a Codebase; "
                          "using %s", self.integration, self._company_id, response.status_code, FALLBACK_CODEBASE)
            return FALLBACK_CODEBASE
        self.http.log(logging.INFO, "%s: API codebase is %s", self.integration, codebase)
        return codebase

    def _list(self, path: str, entity: str, mapper: Mapper, conditions: str | None,
              fields: str | None = None) -> Iterator[Page]:
        """One Page per API page of ``path``, following the Link header."""
        params: dict[str, Any] = {"pageSize": self._page_size, "orderBy": "id asc"}
        headers = {}
        if self.settings.get("forward_only"):
            headers["pagination-type"] = "forward-only"
            del params["orderBy"]  # forward-only paging orders by id itself and rejects orderBy
        else:
            params["page"] = 1
        if conditions:
            params["conditions"] = conditions
        if fields:
            params["fields"] = fields
        for response in follow_links(self.http, path, params=params, headers=headers):
            rows = self.http.decode_json(response, expect=list)
            yield page_of(rows, entity, mapper)

    def _company_names(self) -> dict[int, str | None]:
        names: dict[int, str | None] = {}
        for page in self._list("company/companies", "companies", _company_item, None, fields="id,identifier,name"):
            for item in page.items:
                names[int(item.external_id)] = item.name
        return names

    def _sites(self, companies: dict[int, str | None], conditions: str | None) -> Iterator[Page]:
        """Sites of every company, regrouped into pages of about ``page_size``.

        Sites are listed per company; most companies have one or two, and a Page
        per company would make the sync commit thousands of tiny pages.
        """
        batch = Page([], entity="sites")
        for company_id, company_name in companies.items():
            def site(row: dict[str, Any], company_name: str | None = company_name) -> RemoteItem:
                return _site_item(row, company_name)

            for page in self._list(f"company/companies/{company_id}/sites", "sites", site, conditions):
                batch.items.extend(page.items)
                batch.warnings.extend(page.warnings)
                if len(batch.items) >= self._page_size:
                    yield batch
                    batch = Page([], entity="sites")
        if batch.items or batch.warnings:
            yield batch


# --------------------------------------------------------------------------- mapping rows


def _require_id(row: dict[str, Any]) -> int:
    ident = row.get("id")
    if isinstance(ident, bool) or not isinstance(ident, int):
        raise MalformedRow("it has no numeric id")
    return ident


def _require_name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise MalformedRow("it has no name")
    return value.strip()


def _remote_company(row: dict[str, Any]) -> str | None:
    company = row.get("company")
    if isinstance(company, dict):
        for key in ("name", "identifier"):
            value = company.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
    return None


def _company_item(row: dict[str, Any]) -> RemoteItem:
    ident = _require_id(row)
    name = _require_name(row.get("name") or row.get("identifier"))
    return RemoteItem(ResourceType.CLIENT, str(ident), name, remote_company=name, payload=row)


def _site_item(row: dict[str, Any], company_name: str | None) -> RemoteItem:
    ident = _require_id(row)
    return RemoteItem(ResourceType.SITE, str(ident), _require_name(row.get("name")),
                      remote_company=_remote_company(row) or company_name, payload=row)


def _configuration_item(row: dict[str, Any]) -> RemoteItem:
    ident = _require_id(row)
    return RemoteItem(ResourceType.DEVICE, str(ident), _require_name(row.get("name")),
                      remote_company=_remote_company(row), payload=row)


def _contact_item(row: dict[str, Any]) -> RemoteItem:
    ident = _require_id(row)
    parts = [row.get(key) for key in ("firstName", "lastName")]
    name = " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())
    return RemoteItem(ResourceType.CONTACT, str(ident), _require_name(name),
                      remote_company=_remote_company(row), payload=row)


def _changed_since(since: datetime | None) -> str | None:
    """The ``conditions`` filter for items changed after ``since`` (ConnectWise reads times as UTC)."""
    if since is None:
        return None
    moment = (since if since.tzinfo else since.astimezone()).astimezone(UTC)
    return f"lastUpdated>[{moment.strftime('%Y-%m-%dT%H:%M:%SZ')}]"
