"""A fake Datto RMM API v2, as its OpenAPI description and documentation describe it.

- ``POST /auth/oauth/token`` wants HTTP Basic ``public-client:public`` (401
  without it) and the form ``grant_type=password&username=<api key>&password=<api
  secret>``. A wrong key or secret gets Spring's OAuth answer ``400
  {"error": "invalid_grant", "error_description": "Bad credentials"}``; a right one a
  bearer token living 100 hours (``expires_in`` 359 999).
- ``/api/v2`` requests need ``Authorization: Bearer <token>``. An expired or
  unknown token answers ``401 {"error": "invalid_token", "error_description":
  "Access token expired: <the token>"}`` -- the token echoed back, as Spring does,
  which a connector must never pass on unredacted.
- ``GET /api/v2/account/sites`` and ``/api/v2/account/devices`` page with ``page``
  (from 0) and ``max`` (default and ceiling 250) and answer ``{"pageDetails":
  {"count", "totalCount", "prevPageUrl", "nextPageUrl"}, "sites"|"devices": [...]}``
  with absolute page URLs; ``nextPageUrl`` is null on the last page.
- Timestamps are epoch milliseconds (the spec says date-time; the API sends numbers).
- ``GET /api/v2/site/{siteUid}/devices/network-interface`` pages the site's devices in
  short (uid, hostname, ...) with their ``nics`` (``instance``, ``ipv4``, ``macAddress``,
  ``type``); 404 for a site it does not know. Every device has its own Ethernet MAC and
  the same Hyper-V virtual adapter's (shared by many: not an identity); a device with
  no audit yet has no nics.
- Sites name the Autotask company their PSA link maps them to (``autotaskCompanyId``,
  a string; null on a site without one). With ``out_of_scope=True`` the account also
  holds its recycle bin, the "Deleted Devices" site with two ``deleted`` devices, an
  on-demand site (``onDemand``) with a device, and a site linked to no PSA company.

:meth:`FakeDattoRmm.expire_tokens` makes 100 hours pass; ``honour_tokens = False``
refuses every token it issues; :meth:`FakeDattoRmm.fail_page` scripts a fault on
one page of one list.
"""

from __future__ import annotations

import base64
import itertools
import re
from typing import Any

from tests.connectors.fakes.wsgi import FakeServer, Limits, Request, Response

API_KEY = "DATTO-KEY-4H7K2M"
API_SECRET = "datto-s3cret-Zq81Xv"
PUBLIC_CLIENT = "public-client:public"
MAX_PAGE = 250
#: 100 hours, less the second Datto's token endpoint takes off.
TOKEN_LIFETIME = 100 * 3600 - 1
#: 2026-01-01T00:00:00Z in epoch milliseconds; device timestamps count from here.
EPOCH_MS = 1_767_225_600_000
LISTS = {"/api/v2/account/sites": "sites", "/api/v2/account/devices": "devices"}


class FakeDattoRmm(FakeServer):
    """One Datto RMM account: sites, and devices in them (one per site in the recycle bin, ``deleted``)."""

    #: Datto documents 600 requests per rolling 60 seconds (and no bound on concurrency).
    limits = Limits(rate=600, window=60.0)

    def __init__(self, *, api_key: str = API_KEY, api_secret: str = API_SECRET, sites: int = 3,
                 devices_per_site: int = 4, out_of_scope: bool = False) -> None:
        super().__init__()
        self.api_key, self.api_secret = api_key, api_secret
        self.entities: dict[str, list[dict[str, Any]]] = {"sites": [], "devices": []}
        #: Tokens the fake still honours; expire_tokens() empties it.
        self.tokens: set[str] = set()
        self.tokens_issued = 0
        #: False: tokens are issued but the API refuses them, as when API access is off for the user.
        self.honour_tokens = True
        self._serial = itertools.count(1)
        #: (list, 0-based page) -> responses to give instead, first first.
        self._page_faults: dict[tuple[str, int], list[Response]] = {}
        #: uids of the sites and devices a default-scoped sync must not yield
        self.out_of_scope: set[str] = set()
        self.build(sites, devices_per_site)
        if out_of_scope:
            self.add_out_of_scope()

    # ----------------------------------------------------------------- data

    def build(self, sites: int, devices_per_site: int) -> None:
        for n in range(sites):
            site_id, site_uid, name = 8_100 + n, f"5f1e0c7a-0000-4000-8000-{n:012d}", f"Client {n:03d}"
            self.entities["sites"].append({
                "id": site_id, "uid": site_uid, "accountUid": "ACCT1234", "name": name,
                "description": f"Managed site {n}", "notes": "", "onDemand": False, "splashtopAutoInstall": False,
                "devicesStatus": {"numberOfDevices": devices_per_site, "numberOfOnlineDevices": 1,
                                  "numberOfOfflineDevices": max(0, devices_per_site - 1)},
                "autotaskCompanyName": name, "autotaskCompanyId": str(29_682_000 + n),
                "portalUrl": f"https://fake.centrastage.net/csm/site/{site_id}",
            })
            for m in range(devices_per_site):
                ident = 600_000 + n * 1_000 + m
                self.entities["devices"].append({
                    "id": ident, "uid": f"9c2d4b1e-{n:04d}-4000-8000-{m:012d}",
                    "siteId": site_id, "siteUid": site_uid, "siteName": name,
                    "deviceType": {"category": "Desktop", "type": "Workstation"},
                    "hostname": f"C{n:03d}-WS-{m:03d}", "intIpAddress": f"10.0.{n % 256}.{m % 256}",
                    "operatingSystem": "Microsoft Windows 11 Pro 23H2", "domain": f"C{n:03d}",
                    "online": m == 0, "suspended": False,
                    "deleted": devices_per_site > 1 and m == devices_per_site - 1,
                    "lastSeen": EPOCH_MS + m * 60_000, "lastReboot": EPOCH_MS - 86_400_000,
                    "lastAuditDate": EPOCH_MS - 3_600_000, "creationDate": EPOCH_MS - 90 * 86_400_000,
                    "deviceClass": "device", "portalUrl": f"https://fake.centrastage.net/csm/device/{ident}",
                })

    def add_out_of_scope(self) -> None:
        """Datto's recycle bin site, an on-demand site and a site with no PSA link."""
        for number, (name, on_demand, devices) in enumerate(
                (("Deleted Devices", False, 2), ("Walk-in repairs", True, 1), ("Unlinked Ltd", False, 1))):
            site_id, site_uid = 8_900 + number, f"5f1e0c7a-9999-4000-8000-{number:012d}"
            self.entities["sites"].append({
                "id": site_id, "uid": site_uid, "accountUid": "ACCT1234", "name": name, "description": "",
                "notes": "", "onDemand": on_demand, "splashtopAutoInstall": False,
                "devicesStatus": {"numberOfDevices": devices, "numberOfOnlineDevices": 0,
                                  "numberOfOfflineDevices": devices},
                "autotaskCompanyName": None, "autotaskCompanyId": None,
                "portalUrl": f"https://fake.centrastage.net/csm/site/{site_id}"})
            if name != "Unlinked Ltd":
                self.out_of_scope.add(site_uid)
            for m in range(devices):
                uid = f"9c2d4b1e-9999-4000-8000-{number:06d}{m:06d}"
                self.entities["devices"].append({
                    "id": 690_000 + number * 10 + m, "uid": uid, "siteId": site_id, "siteUid": site_uid,
                    "siteName": name, "deviceType": {"category": "Laptop", "type": "Laptop"},
                    "hostname": f"OLD-LT-{number}{m}", "intIpAddress": "192.168.1.20", "online": False,
                    "suspended": False, "deleted": name == "Deleted Devices", "lastSeen": EPOCH_MS,
                    "deviceClass": "device"})
                if name != "Unlinked Ltd":
                    self.out_of_scope.add(uid)

    def live_devices(self) -> list[dict[str, Any]]:
        """The devices a default-scoped sync yields."""
        return [d for d in self.entities["devices"] if not d["deleted"] and d["uid"] not in self.out_of_scope]

    # ----------------------------------------------------------------- test controls

    def expire_tokens(self) -> None:
        """Let 100 hours pass: every token issued so far is refused from now on."""
        self.tokens.clear()

    def fail_page(self, status: int, *, target: str, page: int, body: bytes | str | Any = b"",
                  headers: dict[str, str] | None = None, times: int = 1) -> None:
        """Answer page ``page`` (from 0) of ``target`` ("sites" or "devices") with this, ``times`` times."""
        responses = self._page_faults.setdefault((target, page), [])
        responses.extend(Response(status, body, dict(headers or {})) for _ in range(times))

    # ----------------------------------------------------------------- HTTP

    def handle(self, request: Request) -> Response:
        path = request.path.rstrip("/")
        if path == "/auth/oauth/token":
            return self._token(request) if request.method == "POST" else _error(405, "method_not_allowed")
        nics = re.fullmatch(r"/api/v2/site/([^/]+)/devices/network-interface", path)
        if path not in LISTS and nics is None:
            return Response.json({"status": 404, "error": "Not Found", "path": path}, 404)
        if request.method != "GET":
            return Response.json({"status": 405, "error": "Method Not Allowed", "path": path}, 405)
        header = request.headers.get("authorization", "")
        token = header[7:] if header.lower().startswith("bearer ") else ""
        if not token:
            return _error(401, "unauthorized", "Full authentication is required to access this resource")
        if token not in self.tokens:
            return _error(401, "invalid_token", f"Access token expired: {token}")
        name = LISTS.get(path, "nics")
        if nics is not None and nics[1] not in {site["uid"] for site in self.entities["sites"]}:
            return Response.json({"status": 404, "error": "Not Found", "message": "Site or filter not found."}, 404)
        try:
            page = int(request.query.get("page", 0))
            size = min(int(request.query.get("max", MAX_PAGE)), MAX_PAGE)
        except ValueError:
            return Response.json({"status": 400, "error": "Bad Request", "message": "page and max must be numbers"},
                                 400)
        scripted = self._page_faults.get((name, page))
        if scripted:
            return scripted.pop(0)
        if nics is not None:
            return self._page(request, "devices", max(0, page), max(1, size),
                              rows=[_with_nics(d) for d in self.entities["devices"] if d.get("siteUid") == nics[1]])
        return self._page(request, name, max(0, page), max(1, size))

    def _token(self, request: Request) -> Response:
        expected = "Basic " + base64.b64encode(PUBLIC_CLIENT.encode()).decode()
        if request.headers.get("authorization") != expected:
            return _error(401, "unauthorized", "Full authentication is required to access this resource")
        form = request.form()
        if form.get("grant_type") != "password":
            return _error(400, "unsupported_grant_type", f"Unsupported grant type: {form.get('grant_type')}")
        if form.get("username") != self.api_key or form.get("password") != self.api_secret:
            return _error(400, "invalid_grant", "Bad credentials")
        token = f"eyJhbGciOiJSUzI1NiJ9.fake{next(self._serial):04d}.c2lnbmF0dXJl"
        if self.honour_tokens:
            self.tokens.add(token)
        self.tokens_issued += 1
        return Response.json({"access_token": token, "token_type": "bearer", "expires_in": TOKEN_LIFETIME,
                              "scope": "default", "jti": token[-12:]})

    def _page(self, request: Request, name: str, page: int, size: int,
              rows: list[dict[str, Any]] | None = None) -> Response:
        rows = self.entities[name] if rows is None else rows
        base = f"{request.origin}{request.path}"

        def url(number: int) -> str:
            return f"{base}?max={size}&page={number}"

        return Response.json({
            "pageDetails": {
                "count": len(rows[page * size:(page + 1) * size]), "totalCount": len(rows),
                "prevPageUrl": url(page - 1) if page > 0 else None,
                "nextPageUrl": url(page + 1) if (page + 1) * size < len(rows) else None,
            },
            name: rows[page * size:(page + 1) * size],
        })


#: The MAC Hyper-V gives its default switch adapter on every host: shared, so no identity.
SHARED_VIRTUAL_MAC = "00:15:5D:00:04:01"


def _with_nics(device: dict[str, Any]) -> dict[str, Any]:
    """A device as the network-interface list shortens it, with its adapters."""
    short = {key: device.get(key) for key in ("id", "uid", "siteId", "siteUid", "siteName", "deviceType",
                                               "hostname", "intIpAddress", "extIpAddress")}
    ident = device["id"]
    short["nics"] = [] if device.get("lastAuditDate") is None else [
        {"instance": "Intel(R) Ethernet Connection I219-LM", "ipv4": device.get("intIpAddress"), "ipv6": None,
         "macAddress": f"3C:52:82:{ident >> 16 & 255:02X}:{ident >> 8 & 255:02X}:{ident & 255:02X}",
         "type": "Ethernet"},
        {"instance": "Hyper-V Virtual Ethernet Adapter", "ipv4": "172.17.0.1", "ipv6": None,
         "macAddress": SHARED_VIRTUAL_MAC, "type": "Ethernet"}]
    return short


def _error(status: int, error: str, description: str | None = None) -> Response:
    body = {"error": error} if description is None else {"error": error, "error_description": description}
    return Response.json(body, status)
