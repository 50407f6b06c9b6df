"""Datto RMM connector, on the Datto RMM API v2.

What the vendor documents and this module relies on:

- The API host depends on the platform the account lives on (``pinotage``,
  ``merlot``, ``concord``, ``vidal``, ``zinfandel``, ``syrah``...): the ``api_url``
  setting, e.g. ``https://pinotage-api.centrastage.net``. Lists live under ``/api/v2/``.
- A bearer token comes from ``POST /auth/oauth/token`` with HTTP Basic
  ``public-client:public`` (the same for everyone: it names the grant, not the
  account) and the form ``grant_type=password&username=<api key>&password=<api
  secret>``. Tokens live 100 hours; the HTTP layer renews one shortly before it
  expires, and once when the API answers 401 (a token can be revoked early).
- ``GET /api/v2/account/sites`` and ``/api/v2/account/devices`` page with
  ``page`` (from 0) and ``max`` (at most 250), and name the next page in
  ``pageDetails.nextPageUrl`` (null on the last). The first page's ``totalCount`` says how
  many pages follow: they are asked for by number, several at once, and devices are listed
  while sites are; pages are handed on in order. A distant API takes a second to answer, so
  waiting for the first pages' totals before asking for more would cost every sync that
  second twice over (sites, then devices): once the token is in hand, the first pages of both
  lists are asked for together (two of sites and eight of devices, at 10 requests at once),
  and those the totals show to lie past the end are dropped unread. That costs a small
  account up to eight requests that answer nothing, of the 600 a minute.
- 600 requests per rolling 60 seconds, then 429 and, on repeated breaches, a
  temporary 403 block; this connector defaults to 520 a minute (under the 90 % mark
  where Datto slows an account down) and 10 requests at once (``connectors/limits.py``).
- Timestamps arrive as epoch milliseconds, although the OpenAPI file calls them
  date-times. Device payloads keep them as sent and add an ISO 8601 UTC copy
  (``lastSeen`` -> ``lastSeenIso``) for people reading the payload.
- Neither list takes a change-time filter (only name, hostname, type and OS
  filters), so there is no incremental fetch: ``since`` is ignored and every
  sync lists everything (``supports_incremental = False``).

How Datto's model maps onto syncview's: Datto has no company above its sites; a
site *is* the customer (sites are named after customers, devices belong to one
site, and Datto's own PSA links map one site to one PSA company). So every site
is emitted twice, with its ``uid`` as external id both times:

- as a **client**, so the site can be matched to a local client and its devices
  filed under that client (a device's remote company is its ``siteName``, which
  only means something once a client of that name is matched);
- as a **site**, for documentation that keeps locations and matches them by name.

What syncs: devices Datto has moved to its recycle bin (``deleted: true``, in the
"Deleted Devices" site Datto keeps them in) are left out, and so is that site, so the
sync sees them as gone from the product rather than as live machines. On-demand
sites (``onDemand``: break-fix customers whose devices come and go) and their
devices are left out unless ``include_on_demand_sites``.

Identity keys, copied as sent: a device's ``hostname``; a site's ``autotaskCompanyId``
(its PSA link) as a cross-reference to that Autotask company, on the site's client
item. The device list carries no serial number and no MAC address: Datto gives them
per device (``/v2/audit/device/{uid}``: ``bios.serialNumber``, ``nics[].macAddress``)
or per site (``/v2/site/{uid}/devices/network-interface``: ``nics[].macAddress``).
At the documented 600 requests a minute an account of 2 000 sites and 10 700 devices
lists in about 50 requests; its audits would take 10 700 more (over 20 minutes at this
connector's 520 a minute), so serials are not fetched. MAC addresses are, with
``network_interfaces = true``: one more request per site (and per 250 devices of a
site) on every sync, 2 000 more for that account (4 minutes), kept as a map of device
uid to its MACs (about 200 bytes a device) until the devices are listed.
``intIpAddress`` is no identity (DHCP moves it) and stays in the payload.

Every sync lists everything, so a full run already finds what was deleted: there is no
separate pass over ids (``supports_live_ids`` stays False).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from functools import partial
from itertools import islice
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx

from syncview.connectors.base import MalformedRow, Page, Setting, page_of
from syncview.connectors.http import HttpClient, HttpConnector, Token, follow_next_urls
from syncview.connectors.parallel import Prefetch, ordered
from syncview.domain import IdentityKeys, RemoteItem, ResourceType, xref
from syncview.errors import ConnectorError

#: The Basic credentials Datto's token endpoint wants from every API client; not a secret.
PUBLIC_CLIENT = ("public-client", "public")
#: Largest page Datto serves (its /v2/system/pagination default and ceiling).
MAX_PAGE = 250
#: Device fields Datto sends as epoch milliseconds.
EPOCH_MS_FIELDS = ("lastSeen", "lastReboot", "lastAuditDate", "creationDate")
#: The site Datto keeps its recycle bin in.
RECYCLE_BIN_SITE = "Deleted Devices"


class DattoRmmConnector(HttpConnector):
    """Fetches sites (as clients and sites) and devices from Datto RMM."""

    kind: ClassVar[str] = "datto_rmm"
    title: ClassVar[str] = "Datto RMM"
    supports_incremental: ClassVar[bool] = False
    settings_schema: ClassVar[tuple[Setting, ...]] = (
        Setting("api_url", "url", help="your platform's API URL, e.g. https://pinotage-api.centrastage.net "
                                       "(Setup > Global Settings > Access Control)"),
        Setting("api_key", help="the API user's API key"),
        Setting("api_secret", secret=True, help="the API user's API secret key"),
        Setting("include_on_demand_sites", "bool", required=False, default=False,
                help="also sync on-demand sites (break-fix customers) and their devices"),
        Setting("network_interfaces", "bool", required=False, default=False,
                help="also read devices' MAC addresses: one more request per site on every sync"),
    )

    def configure(self) -> HttpClient:
        self._root = _api_root(str(self.settings["api_url"]))
        self._auth = self.oauth(self._fetch_token)
        return self.client(
            base_url=f"{self._root}/api/", auth=self._auth,
            auth_hint="check api_key and api_secret, that the API user is enabled, and that api_url is "
                      "your platform's API URL; a 403 after many requests is Datto's temporary block for "
                      "going over 600 requests a minute: wait a few minutes, or lower rate_limit",
        )

    def _fetch_token(self) -> Token:
        # The Basic pair is Datto's public client, the same for every account: it names the
        # grant. The API key and secret go in the form, and the HTTP layer masks the secret.
        return self.http.fetch_oauth_token(
            f"{self._root}/auth/oauth/token",
            data={"grant_type": "password", "username": str(self.settings["api_key"]),
                  "password": str(self.settings["api_secret"])},
            auth=httpx.BasicAuth(*PUBLIC_CLIENT),
        )

    def account(self) -> str:
        # Datto counts per account; an API key is one user of one account on one platform.
        host = urlsplit(_api_root(str(self.settings["api_url"]))).netloc.lower()
        return f"Datto RMM API key {str(self.settings['api_key']).strip()} on {host}"

    # ----------------------------------------------------------------- fetching

    def fetch(self, since: datetime | None = None) -> Iterator[Page]:
        """Every site (as a client and a site), then every device; ``since`` is ignored (see the module doc)."""
        on_demand = bool(self.setting("include_on_demand_sites"))
        #: uids of the sites left out (the recycle bin, on-demand ones), whose devices stay out too
        left_out: set[str] = set()

        kept: list[str] = []

        def site(row: dict[str, Any]) -> list[RemoteItem]:
            items = _site_items(row)
            if row.get("name") == RECYCLE_BIN_SITE or (row.get("onDemand") is True and not on_demand):
                left_out.add(items[0].external_id)
                return []
            kept.append(items[0].external_id)
            return items

        macs: dict[str, tuple[str, ...]] = {}

        def device(row: dict[str, Any]) -> list[RemoteItem]:
            if row.get("siteUid") in left_out:
                return []
            items = _device_items(row)
            found = macs.get(items[0].external_id) if items else None
            return [replace(items[0], keys=replace(items[0].keys, macs=found))] if found else items

        # Devices are fetched while sites are (and written), but handed on after them: a device's
        # site must be judged first. The token comes first, so refused credentials are one error.
        self._auth.ensure()
        workers = self.http.limits.workers
        site_guesses = max(1, workers // 5)
        with Prefetch(self._list("v2/account/devices", "devices", first_pages=max(1, workers - site_guesses)),
                      buffer=2 * workers, name="datto-devices") as devices:
            for rows, total in self._list("v2/account/sites", "sites", first_pages=site_guesses):
                page = page_of(rows, "sites", site)
                page.total = None if total is None else 2 * total  # two items per site
                yield page
            if self.setting("network_interfaces"):
                listings = ordered((partial(self._rows_of, f"v2/site/{uid}/devices/network-interface", "devices")
                                    for uid in kept), workers=workers)
                for rows in listings:
                    macs.update(_device_macs(rows))
            for rows, total in devices:
                page = page_of(rows, "devices", device)
                page.total = total  # counts recycled devices too, which are left out
                yield page

    def reach(self) -> bool:
        """The token and one site: two requests, not the first wave of a sync."""
        body = self.http.get_json("v2/account/sites", params={"max": 1, "page": 0}, expect=dict)
        rows, _ = self._checked(body, "sites", 1)
        return bool(rows)

    def _rows_of(self, path: str, key: str) -> list[Any]:
        """Every row of a (short) list, its pages one after the other."""
        return [row for rows, _ in self._list(path, key, parallel=False) for row in rows]

    def _list(self, path: str, key: str, *, parallel: bool = True,
              first_pages: int = 1) -> Iterator[tuple[list[Any], int | None]]:
        """The rows of each page of ``path`` (under ``key``) and the total Datto reports.

        The first page's ``totalCount`` says how many pages there are: the rest are asked for by
        number, several at once, and handed on in order. ``first_pages`` pages are asked for at
        once before the total is known; those past the end are dropped unread, their failures
        with them. Without a total (or not ``parallel``), ``nextPageUrl`` is followed.
        """
        if not parallel:
            head = self.http.get_json(path, params={"max": MAX_PAGE, "page": 0}, expect=dict)
            yield self._checked(head, key, 1)
            yield from self._following(head, key)
            return
        #: how many pages the first page's total makes (None: it gave none); set once it answered
        counted: list[int | None] = []
        answered = threading.Event()

        def page(number: int) -> dict[str, Any]:
            body: dict[str, Any] = self.http.get_json(path, params={"max": MAX_PAGE, "page": number}, expect=dict)
            return body

        def first() -> dict[str, Any]:
            try:
                body = page(0)
                rows, total = self._checked(body, key, 1)
                more = _next_page_url(body) is not None
                counted.append(1 if not more else -(-total // len(rows)) if total and rows else None)
                return body
            finally:
                answered.set()

        def calls() -> Iterator[Callable[[], dict[str, Any]]]:
            yield first
            yield from (partial(page, number) for number in range(1, first_pages))
            answered.wait()  # the first page is in flight beside the guesses; the rest need its total
            if counted and counted[0] is not None:
                yield from (partial(page, number) for number in range(first_pages, counted[0]))

        bodies = ordered(calls(), workers=self.http.limits.workers)
        try:
            head = next(bodies)
            yield self._checked(head, key, 1)
            if counted[0] is None:  # no total to count pages by: follow the links, the guesses dropped
                bodies.close()
                yield from self._following(head, key)
                return
            for number, body in enumerate(islice(bodies, counted[0] - 1), start=2):
                yield self._checked(body, key, number)
        finally:
            bodies.close()  # guesses past the end: waited for if in flight, never read

    def _following(self, first: dict[str, Any], key: str) -> Iterator[tuple[list[Any], int | None]]:
        """The pages after ``first``, one after the other by its ``nextPageUrl``."""
        next_url = _next_page_url(first)
        if next_url is None:
            return
        pages = follow_next_urls(self.http, "GET", next_url, next_url=_next_page_url)
        for number, body in enumerate(pages, start=2):
            yield self._checked(body, key, number)

    def _checked(self, body: dict[str, Any], key: str, number: int) -> tuple[list[Any], int | None]:
        """A page's rows and the total it reports; a page without them is a clear error, named."""
        rows, details = body.get(key), body.get("pageDetails")
        if not isinstance(rows, list) or not isinstance(details, dict):
            missing = f"a {key} list" if not isinstance(rows, list) else "pageDetails"
            raise ConnectorError(self.http.redact(
                f"{self.integration}: Datto RMM answered page {number} of {key} without {missing}; "
                "the Datto RMM API may have changed, or a proxy answered instead of it"))
        total = details.get("totalCount")
        return rows, total if isinstance(total, int) and not isinstance(total, bool) else None


def _api_root(url: str) -> str:
    """``https://host`` from what operators paste: with or without a trailing ``/`` or ``/api``."""
    root = url.strip().rstrip("/")
    return root.removesuffix("/api").rstrip("/")


def _next_page_url(body: dict[str, Any]) -> str | None:
    details = body.get("pageDetails")
    link = details.get("nextPageUrl") if isinstance(details, dict) else None
    return link if isinstance(link, str) and link else None


# --------------------------------------------------------------------------- mapping rows


def _text(row: dict[str, Any], key: str) -> str | None:
    value = row.get(key)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _site_items(row: dict[str, Any]) -> list[RemoteItem]:
    uid, name = _text(row, "uid"), _text(row, "name")
    if uid is None or name is None:
        raise MalformedRow(f"it has no {'uid' if uid is None else 'name'}")
    company = row.get("autotaskCompanyId")
    company = str(company).strip() if isinstance(company, str | int) and not isinstance(company, bool) else ""
    # The PSA link names the Autotask company the site is: a key of the client it stands for.
    keys = IdentityKeys(xrefs=(xref("autotask", ResourceType.CLIENT, company),)) if company else IdentityKeys()
    return [
        RemoteItem(ResourceType.CLIENT, uid, name, remote_company=name, payload=row, keys=keys),
        RemoteItem(ResourceType.SITE, uid, name, remote_company=name, payload=row),
    ]


def _device_items(row: dict[str, Any]) -> list[RemoteItem]:
    if row.get("deleted") is True:
        return []  # in Datto's recycle bin: gone from the product as far as documentation goes
    uid, hostname = _text(row, "uid"), _text(row, "hostname")
    if uid is None or hostname is None:
        raise MalformedRow(f"it has no {'uid' if uid is None else 'hostname'}")
    payload = dict(row)
    for key in EPOCH_MS_FIELDS:
        moment = _from_epoch_ms(row.get(key))
        if moment is not None:
            payload[f"{key}Iso"] = moment
    return [RemoteItem(ResourceType.DEVICE, uid, hostname, remote_company=_text(row, "siteName"), payload=payload,
                       keys=IdentityKeys(hostname=hostname))]


def _device_macs(rows: list[Any]) -> Iterator[tuple[str, tuple[str, ...]]]:
    """(device uid, its MAC addresses as sent) from a page of the network-interface list."""
    for row in rows:
        if not isinstance(row, dict) or _text(row, "uid") is None or not isinstance(row.get("nics"), list):
            continue
        found = tuple(dict.fromkeys(nic["macAddress"].strip() for nic in row["nics"] if isinstance(nic, dict)
                                    and isinstance(nic.get("macAddress"), str) and nic["macAddress"].strip()))
        if found:
            yield row["uid"].strip(), found


def _from_epoch_ms(value: Any) -> str | None:
    """An ISO 8601 UTC time from epoch milliseconds; None for anything else (absent, null, text)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        moment = datetime.fromtimestamp(value / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
