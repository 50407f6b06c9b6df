"""HaloPSA connector, on the Halo API.

Settings use Halo's own words from its API configuration page: the Resource
Server (``https://acme.halopsa.com/api``) and the Authorisation Server
(``https://acme.halopsa.com/auth``, the default).

What the vendor documents and this module relies on:

- A bearer token from ``POST {authorisation server}/token`` (``/auth/token``) with the form
  ``grant_type=client_credentials, client_id, client_secret, scope=all``; hosted
  instances also name their ``tenant`` (sent as a query parameter). The token
  carries ``expires_in`` and is renewed before it runs out (and once on a 401).
- Lists page with ``pageinate=true``, ``page_size`` and ``page_no`` (from 1), and
  answer ``{"record_count": N, "clients"|"sites"|"assets"|"users": [...]}``.
  The first page's ``record_count`` says how many pages follow: they are asked for several
  at once (4 by default: Halo documents no limit, only 429 with ``Retry-After``), and the
  other lists are fetched while clients are, all handed on in order.
- The list endpoints have no filter on change time (``lastupdatefromdate`` and
  ``lastupdatetodate`` are documented as flags that add fields to the answer), so
  this connector always fetches everything: ``supports_incremental`` is False.

Entities: clients become clients, sites sites, assets devices, users contacts.

What syncs: active rows (``includeinactive`` is sent false and a row marked
``inactive`` is left out anyway, unless ``include_inactive``) of clients that are not
left out (an inactive client's active sites, assets and users stay out with it,
known by ``client_id``; clients are asked for with ``includeinactive`` so that the
inactive ones are known),
and users other than
the "General User" placeholder Halo keeps on every site (``exclude_generaluser``,
unless ``include_general_users``).

Identity keys, copied as sent: an asset's host name and serial are whichever of its
key fields (``key_field``, ``key_field2``, ``key_field3``) the asset types use for
them, set by ``hostname_field`` (default ``key_field``) and ``serial_field`` (no
default: Halo's asset types decide, so say which); its ``ethernetMacAddress`` when
sent; its ``datto_id`` (set by Halo's Datto RMM integration) as that Datto RMM device.
``inventory_number`` is the asset tag, the MSP's own label: not a key. A user's
``emailaddress``; a client's ``autotaskid`` and ``connectwiseid`` (its PSA links, 0
when unlinked) as cross-references to those companies.

Every sync lists everything, so a full run already finds what was deleted: there is no
separate pass over ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace
from functools import partial
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

from syncview.connectors.base import MalformedRow, Page, Setting, page_of
from syncview.connectors.http import MAX_PAGES, HttpClient, HttpConnector, Token
from syncview.connectors.parallel import Prefetch, ordered
from syncview.errors import ConfigError, ConnectorError
from syncview.domain import IdentityKeys, RemoteItem, ResourceType, xref

DEFAULT_PAGE_SIZE = 100
#: Asset fields that may hold a host name or serial, as Halo's asset types assign them.
KEY_FIELDS = ("key_field", "key_field2", "key_field3", "inventory_number")


@dataclass(frozen=True, slots=True)
class _Entity:
    path: str  # under /api
    key: str  # list field of the answer
    type: ResourceType
    name_fields: tuple[str, ...]  # first non-empty one names the item
    company_field: str | None  # field holding the remote company's name


_ENTITIES = (
    _Entity("Client", "clients", ResourceType.CLIENT, ("name",), "name"),
    _Entity("Site", "sites", ResourceType.SITE, ("name",), "client_name"),
    # Halo shows an asset by its key field (usually the host name); the inventory number is the asset tag.
    _Entity("Asset", "assets", ResourceType.DEVICE, ("key_field", "inventory_number"), "client_name"),
    _Entity("Users", "users", ResourceType.CONTACT, ("name",), "client_name"),
)


class HaloPsaConnector(HttpConnector):
    """Fetches clients, sites, assets and users from HaloPSA."""

    kind: ClassVar[str] = "halopsa"
    title: ClassVar[str] = "HaloPSA"
    supports_incremental: ClassVar[bool] = False
    settings_schema: ClassVar[tuple[Setting, ...]] = (
        Setting("resource_server", "url",
                help="the Resource Server URL from Halo's API settings, e.g. https://acme.halopsa.com/api"),
        Setting("client_id", help="client ID of the API application (Configuration > Integrations > Halo API)"),
        Setting("client_secret", secret=True, help="client secret of the API application"),
        Setting("tenant", required=False, help="tenant name, for instances hosted by Halo"),
        Setting("auth_server", "url", required=False,
                help="the Authorisation Server URL, when it is not the resource server's /auth"),
        Setting("page_size", "int", required=False, default=DEFAULT_PAGE_SIZE, help="items per request"),
        Setting("include_inactive", "bool", required=False, default=False,
                help="also sync inactive clients, sites, assets and users"),
        Setting("include_general_users", "bool", required=False, default=False,
                help='also sync the "General User" placeholder Halo keeps on every site'),
        Setting("hostname_field", required=False, default="key_field",
                help=f"the asset field holding the host name: one of {', '.join(KEY_FIELDS)}"),
        Setting("serial_field", required=False,
                help=f"the asset field holding the serial number on your asset types: one of "
                     f"{', '.join(KEY_FIELDS)}; unset: assets give no serial"),
    )

    def configure(self) -> HttpClient:
        # Operators paste the site's address as often as the API's: accept both.
        site = str(self.settings["resource_server"]).rstrip("/").removesuffix("/api")
        self._auth_server = str(self.settings.get("auth_server") or f"{site}/auth").rstrip("/")
        self._page_size = max(1, int(self.settings.get("page_size") or DEFAULT_PAGE_SIZE))
        self._inactive = bool(self.setting("include_inactive"))
        self._general_users = bool(self.setting("include_general_users"))
        #: ids of the clients left out (inactive), whose sites, assets and users stay out too
        self._left_out: set[Any] = set()
        self._fields = {}
        for name in ("hostname_field", "serial_field"):
            field = self.setting(name)
            if field is not None and field not in KEY_FIELDS:
                raise ConfigError(f'integration "{self.integration}": {name} must be one of {", ".join(KEY_FIELDS)}, '
                                  f"got {field!r}")
            self._fields[name] = field
        self.auth = self.oauth(self._fetch_token)
        return self.client(
            base_url=f"{site}/api/", auth=self.auth,
            auth_hint="check client_id, client_secret and tenant, and that the API application may read "
                      "clients, sites, assets and users",
        )

    def _fetch_token(self) -> Token:
        tenant = self.settings.get("tenant")
        return self.http.fetch_oauth_token(
            f"{self._auth_server}/token",
            params={"tenant": tenant} if tenant else None,
            data={
                "grant_type": "client_credentials",
                "client_id": str(self.settings["client_id"]),
                "client_secret": str(self.settings["client_secret"]),
                "scope": "all",
            },
        )

    def account(self) -> str:
        host = urlsplit(str(self.settings["resource_server"]).strip()).netloc.lower()
        tenant = str(self.settings.get("tenant") or "").strip()
        return f"HaloPSA {host}{f' tenant {tenant}' if tenant else ''}"

    # ----------------------------------------------------------------- fetching

    def fetch(self, since: datetime | None = None) -> Iterator[Page]:
        """Everything, every time: Halo cannot list only what changed (``since`` is ignored).

        The first list (clients) is fetched first, proving the token; the others are then
        fetched at once, each several pages at a time, and handed on in order: rows are mapped
        here, as they are handed on, so that clients are judged before their items.
        """
        first, *rest = _ENTITIES
        with ExitStack() as stack:
            later: list[Prefetch[tuple[list[Any], int | None]]] = []
            for rows, total in self._rows(first):
                if not later:
                    later = [stack.enter_context(Prefetch(self._rows(entity), buffer=2 * self.http.limits.workers,
                                                          name=f"halo-{entity.key}")) for entity in rest]
                yield self._page(first, rows, total)
            sources: list[Iterable[tuple[list[Any], int | None]]] = (
                list(later) if later else [self._rows(entity) for entity in rest])
            for entity, pages in zip(rest, sources):
                for rows, total in pages:
                    yield self._page(entity, rows, total)

    def _page(self, entity: _Entity, rows: list[Any], total: int | None) -> Page:
        return page_of(rows, entity.key, lambda row: self._item(row, entity), total=total)

    def _rows(self, entity: _Entity) -> Iterator[tuple[list[Any], int | None]]:
        """The rows of each page of ``entity`` and the total Halo reports.

        The first page's ``record_count`` says how many pages follow: they are asked for
        several at once and handed on in order. A server capping ``page_size`` below ours
        sends "short" pages that are not the last: its page size is the first page's. Should
        the total understate, pages are then asked for one by one until an empty or short one.
        """
        def fetch_page(number: int) -> tuple[list[Any], int | None]:
            # Inactive clients are asked for too: knowing them is what keeps their items out.
            inactive = self._inactive or entity.type is ResourceType.CLIENT
            params: dict[str, Any] = {"pageinate": "true", "page_size": self._page_size, "page_no": number,
                                      "includeactive": "true", "includeinactive": str(inactive).lower()}
            if entity.type is ResourceType.CONTACT:
                params["exclude_generaluser"] = str(not self._general_users).lower()
            response = self.http.get(entity.path, params=params)
            body = self.http.decode_json(response, expect=dict)
            rows, total = body.get(entity.key), body.get("record_count")
            if not isinstance(rows, list):
                raise self.http.shape_error(response, f'an object without a "{entity.key}" list')
            if isinstance(total, bool) or not isinstance(total, int):
                total = None
            return rows, total

        rows, total = fetch_page(1)
        yield rows, total
        seen, last, number = len(rows), len(rows), 1
        if total is not None and rows and seen < total:
            size = len(rows)
            count = -(-total // size)
            pages = ordered((partial(fetch_page, n) for n in range(2, count + 1)), workers=self.http.limits.workers)
            for rows, _ in pages:
                yield rows, total
                seen, last = seen + len(rows), len(rows)
            number = count
        # Rows as sent count: a page's items leave out the rows out of scope.
        while (seen < total and last > 0) if total is not None else last >= self._page_size:
            number += 1
            if number > MAX_PAGES:
                raise ConnectorError(f"{self.integration}: more than {MAX_PAGES} pages of {entity.key}; "
                                     "the server never signalled the last one, so the sync stopped")
            rows, _ = fetch_page(number)
            yield rows, total
            seen, last = seen + len(rows), len(rows)

    def _item(self, row: dict[str, Any], entity: _Entity) -> list[RemoteItem]:
        item = _item(row, entity)
        if entity.type is ResourceType.CLIENT:
            if row.get("inactive") is True and not self._inactive:
                self._left_out.add(row["id"])
                return []
        elif row.get("client_id") in self._left_out:
            return []  # an active row of a client left out stays out with it
        if row.get("inactive") is True and not self._inactive:
            return []  # asked for active rows only; an answer with others is filtered here too
        if entity.type is ResourceType.DEVICE:
            keys = IdentityKeys(serial=_text(row, self._fields["serial_field"]),
                                hostname=_text(row, self._fields["hostname_field"]),
                                macs=tuple(m for m in (_text(row, "ethernetMacAddress"),) if m),
                                xrefs=_xrefs(row, ("datto_id", "datto_rmm", ResourceType.DEVICE)))
        elif entity.type is ResourceType.CONTACT:
            keys = IdentityKeys(email=_text(row, "emailaddress"))
        elif entity.type is ResourceType.CLIENT:
            keys = IdentityKeys(xrefs=_xrefs(row, ("autotaskid", "autotask", ResourceType.CLIENT),
                                             ("connectwiseid", "connectwise", ResourceType.CLIENT)))
        else:
            return [item]
        return [replace(item, keys=keys)]


def _text(row: dict[str, Any], field: str | None) -> str | None:
    value = row.get(field) if field else None
    return value.strip() if isinstance(value, str) and value.strip() else None


def _xrefs(row: dict[str, Any], *links: tuple[str, str, ResourceType]) -> tuple[str, ...]:
    """Cross-references from link fields; Halo writes 0 (or nothing) where there is no link."""
    found = []
    for field, kind, type_ in links:
        value = row.get(field)
        if isinstance(value, bool) or value in (None, 0, "", "0"):
            continue
        if isinstance(value, int | str) and str(value).strip():
            found.append(xref(kind, type_, str(value).strip()))
    return tuple(found)


def _item(row: dict[str, Any], entity: _Entity) -> RemoteItem:
    ident = row.get("id")
    if isinstance(ident, bool) or not isinstance(ident, int | str) or not str(ident).strip():
        raise MalformedRow("it has no id")
    name = next((row[f].strip() for f in entity.name_fields if isinstance(row.get(f), str) and row[f].strip()), None)
    if name is None and entity.type is ResourceType.CONTACT:
        parts = [row.get(f) for f in ("firstname", "surname")]
        name = " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip()) or None
    if name is None:
        raise MalformedRow("it has no name")
    company = row.get(entity.company_field) if entity.company_field else None
    remote_company = company.strip() if isinstance(company, str) and company.strip() else None
    return RemoteItem(entity.type, str(ident).strip(), name, remote_company=remote_company, payload=row)
