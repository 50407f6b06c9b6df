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
- Over its rate limit the API answers 429 with ``Retry-After`` (the HTTP layer waits); no
  limit is documented, so this connector sends at most 4 requests at once by default
  (``connectors/limits.py``): the pages after the first by number (the first answer's
  ``rel="last"`` link says how many), several companies' sites, and configurations and
  contacts while companies and sites are fetched, all handed on in order.
- ``fields=id,company/id`` answers only those fields: the cheap pass over live ids.

Entities: companies become clients, their sites sites, configurations devices,
contacts contacts.

What syncs (the scope settings): a ConnectWise database holds far more than an MSP's
estate. Companies sync when not deleted (``deletedFlag``), of a status in
``company_statuses`` (``status.name``, default Active) and of a type in
``company_types`` (any of ``types[].name``, default Client): vendors, prospects,
competitors and inactive companies stay out, and so do their sites, configurations
and contacts. Configurations sync when active (``activeFlag``) and contacts when not
inactive (``inactiveFlag``), filtered in the request, unless ``include_inactive``.
Company scope is judged here rather than in the request, so that the items of a
company left out are known to be left out, not taken for orphans.

Identity keys, copied as sent: a configuration's ``serialNumber``, ``macAddress`` and
its ``name`` as host name (ConnectWise has no host name field; RMM integrations name
configurations after the machine; ``deviceIdentifier`` is written by whichever
integration manages the configuration, in its own form, so it stays in the payload).
``tagNumber`` is not a key: it is the MSP's own asset label, typed by a person into
the PSA alone, which no other product reports and which is re-used on replaced
hardware; it stays in the payload. A contact's
e-mail is its default ``Email`` communication item (else its first one).

Deletions: after an incremental fetch, :meth:`live_ids` lists the ids of companies,
configurations and contacts (``fields=id,...``, ``page_size`` a request). Sites have no
list of their own: they are listed per company, one request each, on every sync. An
incremental fetch asks each company for all its sites rather than the changed ones
(the same one request per company; unchanged sites cost the store only their
``last_seen``), so the ids it saw are the live sites and :meth:`live_ids` hands them
on without asking again.

``incremental_sites = "changed"`` spares those requests on incremental syncs, for a database of
thousands of companies under a tight rate: ConnectWise lists sites only per company
(``company/companies/{id}/sites``; there is no list of sites across companies, and a
``lastUpdated`` condition on sites filters within one company's list, so it spares no
request), so an incremental sync then lists the sites of the companies changed since the last
sync alone. A site changed or deleted under a company that did not change comes with the
next full sync (``syncview sync --full``, e.g. nightly), and live_ids names no sites then.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from functools import partial
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx

from syncview.connectors.base import IdPage, MalformedRow, Page, Setting, page_of
from syncview.connectors.http import BasicAuth, HttpClient, HttpConnector, follow_links
from syncview.connectors.parallel import Prefetch, ordered
from syncview.domain import IdentityKeys, RemoteItem, ResourceType
from syncview.errors import ConfigError

#: Where the API still answers when the codebase lookup fails (the long-lived legacy path).
FALLBACK_CODEBASE = "v4_6_release/"
MAX_PAGE_SIZE = 1000

Mapper = Callable[[dict[str, Any]], RemoteItem | list[RemoteItem]]
#: Fields the scope of a company is judged on; the live id pass asks for these alone.
SCOPE_FIELDS = "id,identifier,name,deletedFlag,status/name,types/name"


class ConnectWiseConnector(HttpConnector):
    """Fetches companies, sites, configurations and contacts from ConnectWise Manage."""

    kind: ClassVar[str] = "connectwise"
    title: ClassVar[str] = "ConnectWise Manage"
    supports_incremental: ClassVar[bool] = True
    supports_live_ids: ClassVar[bool] = True
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
        Setting("company_types", "list", required=False, default=("Client",),
                help="company types to sync, as named in ConnectWise (a company of any of them syncs); "
                     "[] for every type"),
        Setting("company_statuses", "list", required=False, default=("Active",),
                help='company statuses to sync, as named in ConnectWise, e.g. ["Active", "Credit Hold"]; '
                     "[] for every status (deleted companies never sync)"),
        Setting("include_inactive", "bool", required=False, default=False,
                help="also sync inactive configurations and contacts"),
        Setting("incremental_sites", required=False, default="all",
                help='which companies an incremental sync lists sites of: "all" (one request per company, '
                     'every sync) or "changed" (only companies changed since the last sync; other site '
                     "changes and deletions come with the next full sync)"),
    )

    def configure(self) -> HttpClient:
        site = str(self.settings["site"]).strip().rstrip("/")
        # A bare host is the cloud's https; an on-premise server may need its own scheme and port.
        self._root = site if site.startswith(("https://", "http://")) else f"https://{site}"
        self._api_url = self.settings.get("base_url")
        self._company_id = str(self.settings["company_id"]).strip()
        self._page_size = max(1, min(MAX_PAGE_SIZE, int(self.settings.get("page_size") or MAX_PAGE_SIZE)))
        self._scope = _CompanyScope(self.setting("company_types"), self.setting("company_statuses"))
        self._active_only = not self.setting("include_inactive")
        self._every_site = _incremental_sites(self.integration, self.setting("incremental_sites"))
        #: ids of the sites the last fetch listed (whole), for live_ids; None before a fetch
        self._site_ids: list[str] | None = None
        self._api_ready = False
        auth = BasicAuth(
            f"{self._company_id}+{self.settings['public_key']}",
            str(self.settings["private_key"]),
            extra_headers={"clientId": str(self.settings["client_id"])},
        )
        return self.client(
            base_url=self._root, auth=auth,
            auth_hint="check company_id, public_key, private_key and client_id, and that the API member is active",
        )

    def account(self) -> str:
        site = str(self.settings["site"]).strip().rstrip("/")
        host = urlsplit(site if "://" in site else f"https://{site}").netloc.lower()
        return f"ConnectWise company {str(self.settings['company_id']).strip().lower()} on {host}"

    # ----------------------------------------------------------------- fetching

    def fetch(self, since: datetime | None = None) -> Iterator[Page]:
        """Companies, then sites, configurations and contacts; only those changed after ``since`` if
        given, but sites whole (see the module doc)."""
        self._discover_api()
        changed = _changed_since(since)
        scope = self._scope
        companies: dict[int, str | None] = {}

        def client(row: dict[str, Any]) -> list[RemoteItem]:
            inside = scope.judge(row)
            if inside and _numeric_id(row):
                # Before the row is checked: a company skipped for want of a name still has sites.
                companies[row["id"]] = _company_name(row)
            item = _company_item(row)
            return [item] if inside else []

        configurations = ("company/configurations", _all(changed, "activeFlag=true" if self._active_only else None))
        contacts = ("company/contacts", _all(changed, "inactiveFlag=false" if self._active_only else None))
        with ExitStack() as stack:
            # From the first company page on (the credentials proven), configurations and contacts
            # are fetched at once with the rest, and handed on after the companies and sites:
            # rows are mapped here, in order, so that each company is judged before its items.
            later: list[Prefetch[list[Any]]] = []
            for rows in self._rows("company/companies", changed):
                if not later:
                    later = [stack.enter_context(Prefetch(self._rows(path, conditions), name=f"cw-{path}",
                                                          buffer=2 * self.http.limits.workers))
                             for path, conditions in (configurations, contacts)]
                yield page_of(rows, "companies", client)
            if since is None or self._every_site:
                if since is not None:
                    # Sites of a company that did not change may have: list every company, cheaply.
                    companies = self._company_names()
                # Whole, even when incremental: the request per company is the same, and the ids
                # seen are then the live sites, for live_ids.
                self._site_ids = []
            else:
                # incremental_sites = "changed": the sites of the companies just listed as changed
                # alone; not the live sites, so live_ids does not name sites this time.
                self._site_ids = None
            yield from self._sites(companies)
            for (path, conditions), entity, mapper in ((configurations, "configurations", _configuration_item),
                                                       (contacts, "contacts", _contact_item)):
                for rows in later.pop(0) if later else self._rows(path, conditions):
                    yield page_of(rows, entity, scope.owned(mapper))

    def live_ids(self) -> Iterator[IdPage]:
        """Ids of the companies, configurations and contacts in scope now, and of the sites the
        fetch just listed whole (see the module doc)."""
        self._discover_api()
        scope = self._scope
        if self._site_ids is not None:
            for start in range(0, len(self._site_ids), self._page_size):
                yield IdPage(ResourceType.SITE, self._site_ids[start:start + self._page_size])
            if not self._site_ids:
                yield IdPage(ResourceType.SITE, [])
        # Rows are read as they come, not mapped: a row the fetch skips as malformed (no name) is
        # still a live one, never to be marked removed.
        for path, type_, fields, active in (
                ("company/companies", ResourceType.CLIENT, SCOPE_FIELDS, None),
                ("company/configurations", ResourceType.DEVICE, "id,company/id", "activeFlag=true"),
                ("company/contacts", ResourceType.CONTACT, "id,company/id", "inactiveFlag=false")):
            for response in self._pages(path, active if self._active_only else None, fields=fields):
                rows = [row for row in self.http.decode_json(response, expect=list)
                        if isinstance(row, dict) and _numeric_id(row)]
                inside = scope.judge if type_ is ResourceType.CLIENT else scope.owns
                yield IdPage(type_, [str(row["id"]) for row in rows if inside(row)])

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
        """One Page per API page of ``path``."""
        for rows in self._rows(path, conditions, fields):
            yield page_of(rows, entity, mapper)

    def _rows(self, path: str, conditions: str | None, fields: str | None = None) -> Iterator[list[Any]]:
        """The rows of each page of ``path``."""
        for response in self._pages(path, conditions, fields):
            yield self.http.decode_json(response, expect=list)

    def _pages(self, path: str, conditions: str | None, fields: str | None = None, *,
               parallel: bool = True) -> Iterator[httpx.Response]:
        """The answers to ``path``'s pages, in order.

        The first answer's ``Link`` header names the last page: the pages between are asked for
        by number, several at once (``parallel``). Forward-only paging (a ``pageId`` cursor) and
        an answer without a last link follow the next links one by one.
        """
        params: dict[str, Any] = {"pageSize": self._page_size, "orderBy": "id asc"}
        headers = {}
        forward_only = bool(self.settings.get("forward_only"))
        if forward_only:
            headers["pagination-type"] = "forward-only"
            del params["orderBy"]  # forward-only paging orders by id itself and rejects orderBy
        else:
            params["page"] = 1
        if conditions:
            params["conditions"] = conditions
        if fields:
            params["fields"] = fields
        answers = follow_links(self.http, path, params=params, headers=headers)
        first = next(answers)
        last = _last_page(first)
        if not parallel or forward_only or last is None or "next" not in first.links:
            yield first
            yield from answers
            return
        answers.close()
        yield first

        def page(number: int) -> httpx.Response:
            return self.http.get(path, params={**params, "page": number}, headers=headers)

        yield from ordered((partial(page, n) for n in range(2, last + 1)), workers=self.http.limits.workers)

    def _company_names(self) -> dict[int, str | None]:
        """Every company in scope, by id, with its name (None for one without); judging them
        records the ones left out."""
        names: dict[int, str | None] = {}
        for response in self._pages("company/companies", None, fields=SCOPE_FIELDS):
            for row in self.http.decode_json(response, expect=list):
                if isinstance(row, dict) and _numeric_id(row) and self._scope.judge(row):
                    names[row["id"]] = _company_name(row)
        return names

    def _sites(self, companies: dict[int, str | None]) -> Iterator[Page]:
        """Sites of every company, regrouped into pages of about ``page_size``.

        Sites are listed per company, several companies at once (handed on in order); most
        companies have one or two, and a Page per company would make the sync commit thousands
        of tiny pages.
        """
        def listing(company_id: int) -> list[list[Any]]:
            path = f"company/companies/{company_id}/sites"
            return [self.http.decode_json(answer, expect=list) for answer in self._pages(path, None, parallel=False)]

        batch = Page([], entity="sites")
        listings = ordered((partial(listing, company_id) for company_id in companies),
                           workers=self.http.limits.workers)
        for company_name, pages in zip(companies.values(), listings):
            def site(row: dict[str, Any], company_name: str | None = company_name) -> RemoteItem:
                return _site_item(row, company_name)

            for rows in pages:
                page = page_of(rows, "sites", site)
                if self._site_ids is not None:
                    self._site_ids.extend(item.external_id for item in page.items)
                batch.items.extend(page.items)
                batch.warnings.extend(page.warnings)
                if len(batch.items) >= self._page_size:
                    yield batch
                    batch = Page([], entity="sites")
        if batch.items or batch.warnings:
            yield batch


def _last_page(response: httpx.Response) -> int | None:
    """The page number of the ``rel="last"`` link, if the answer gives one."""
    link = response.links.get("last", {}).get("url")
    try:
        return int(httpx.URL(link).params["page"]) if link else None
    except (KeyError, ValueError):
        return None


# --------------------------------------------------------------------------- mapping rows


class _CompanyScope:
    """Which companies sync (the ``company_types`` and ``company_statuses`` settings), and the
    ids of those judged out, so that their sites, configurations and contacts stay out too."""

    def __init__(self, types: Any, statuses: Any) -> None:
        self.types = _names(types)
        self.statuses = _names(statuses)
        #: companies judged out of scope in this connector's life
        self.left_out: set[int] = set()

    def judge(self, row: dict[str, Any]) -> bool:
        """Whether a company row syncs; remembers the ones that do not."""
        inside = row.get("deletedFlag") is not True and self._status_in(row) and self._type_in(row)
        ident = row.get("id")
        if isinstance(ident, int):
            if inside:
                self.left_out.discard(ident)
            else:
                self.left_out.add(ident)
        return inside

    def _status_in(self, row: dict[str, Any]) -> bool:
        if not self.statuses:
            return True
        status = row.get("status")
        name = status.get("name") if isinstance(status, dict) else None
        return isinstance(name, str) and name.strip().casefold() in self.statuses

    def _type_in(self, row: dict[str, Any]) -> bool:
        if not self.types:
            return True
        types = row.get("types")
        names = {t["name"].strip().casefold() for t in types if isinstance(t, dict)
                 and isinstance(t.get("name"), str)} if isinstance(types, list) else set()
        return bool(names & self.types)

    def owns(self, row: dict[str, Any]) -> bool:
        """Whether a row's company is not one judged out (an unknown company is kept)."""
        company = row.get("company")
        return not (isinstance(company, dict) and company.get("id") in self.left_out)

    def owned(self, mapper: Callable[[dict[str, Any]], RemoteItem]) -> Mapper:
        """``mapper`` for rows of companies in scope; rows of the others map to nothing."""
        def mapped(row: dict[str, Any]) -> list[RemoteItem]:
            return [mapper(row)] if self.owns(row) else []

        return mapped


def _incremental_sites(integration: str, value: Any) -> bool:
    """The ``incremental_sites`` setting: whether an incremental sync lists every company's sites."""
    choice = str(value or "all").strip().casefold()
    if choice not in ("all", "changed"):
        raise ConfigError(f'integration "{integration}": incremental_sites must be "all" or "changed", '
                          f"got {value!r}")
    return choice == "all"


def _names(value: Any) -> frozenset[str]:
    """A list setting as a set of names compared without case; empty: everything."""
    if value is None:
        return frozenset()
    return frozenset(v.strip().casefold() for v in value if isinstance(v, str) and v.strip())


def _all(*conditions: str | None) -> str | None:
    """Conditions joined by ``and``; None when there is none."""
    given = [c for c in conditions if c]
    return " and ".join(given) or None


def _numeric_id(row: dict[str, Any]) -> bool:
    ident = row.get("id")
    return isinstance(ident, int) and not isinstance(ident, bool)


def _require_id(row: dict[str, Any]) -> int:
    ident = row.get("id")
    if not _numeric_id(row) or not isinstance(ident, int):
        raise MalformedRow("it has no numeric id")
    return ident


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


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


def _company_name(row: dict[str, Any]) -> str | None:
    return _text(row.get("name")) or _text(row.get("identifier"))


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
    name = _require_name(row.get("name"))
    mac = _text(row.get("macAddress"))
    keys = IdentityKeys(serial=_text(row.get("serialNumber")), macs=(mac,) if mac else (), hostname=name)
    return RemoteItem(ResourceType.DEVICE, str(ident), name, remote_company=_remote_company(row), payload=row,
                      keys=keys)


def _contact_item(row: dict[str, Any]) -> RemoteItem:
    ident = _require_id(row)
    parts = [row.get(key) for key in ("firstName", "lastName")]
    name = " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())
    return RemoteItem(ResourceType.CONTACT, str(ident), _require_name(name),
                      remote_company=_remote_company(row), payload=row, keys=IdentityKeys(email=_email(row)))


def _email(row: dict[str, Any]) -> str | None:
    """A contact's e-mail: its default Email communication item, else its first one."""
    items = row.get("communicationItems")
    emails = [item for item in items if isinstance(item, dict) and _text(item.get("value")) and (
        item.get("communicationType") == "Email"
        or (isinstance(item.get("type"), dict) and item["type"].get("name") == "Email"))
    ] if isinstance(items, list) else []
    emails.sort(key=lambda item: item.get("defaultFlag") is not True)
    return _text(emails[0]["value"]) if emails else None


def _changed_since(since: datetime | None) -> str | None:
    """The ``conditions`` filter for items changed after ``since`` (ConnectWise reads times as UTC)."""
    if since is None:
        return None
    moment = (since if since.tzinfo else since.astimezone()).astimezone(UTC)
    return f"lastUpdated>[{moment.strftime('%Y-%m-%dT%H:%M:%SZ')}]"
