"""A fake HaloPSA server, as the vendor documents the Halo API.

- ``POST /auth/token`` takes the form ``grant_type=client_credentials, client_id,
  client_secret, scope=all`` (and the ``tenant`` as a query parameter or form
  field when the instance is hosted); a wrong one is an OAuth ``invalid_client`` (400).
- ``/api/Client``, ``/api/Site``, ``/api/Asset``, ``/api/Users`` want
  ``Authorization: Bearer <token>`` (401 otherwise, also once a token is revoked),
  page with ``pageinate=true``, ``page_size`` and ``page_no`` (from 1), and answer
  ``{"record_count": N, "clients"|"sites"|"assets"|"users": [...]}``; past the
  end a page is empty.
- Rows carry what Halo sends: clients their PSA links (``autotaskid``, ``connectwiseid``,
  0 when unlinked) and ``inactive``; assets ``key_field`` (the host name on these asset
  types), ``key_field2`` (the serial), ``inventory_number`` (the asset tag) and, for
  those a Datto RMM integration imported, ``datto_id`` (the Datto device uid); users
  ``emailaddress``. Inactive rows are answered only to ``includeinactive=true``; every
  site's "General User" placeholder unless ``exclude_generaluser=true``.
- With ``out_of_scope=True`` there are such rows: an inactive client (with its site,
  asset and user), an inactive asset and user per client, a General User per site,
  and placeholder serials.
"""

from __future__ import annotations

import itertools
from typing import Any

from tests.connectors.fakes.wsgi import FakeServer, Request, Response, page_window

#: Halo route -> list field of its answer.
ROUTES = {"Client": "clients", "Site": "sites", "Asset": "assets", "Users": "users"}


class FakeHaloPsa(FakeServer):
    """Clients with a site each, assets and users; tokens live ``token_lifetime`` seconds."""

    def __init__(
        self,
        *,
        client_id: str = "halo-app-id",
        client_secret: str = "HaloS3cret!value",
        tenant: str | None = "acme",
        clients: int = 3,
        assets_per_client: int = 3,
        users_per_client: int = 2,
        token_lifetime: int = 3600,
        out_of_scope: bool = False,
    ) -> None:
        super().__init__()
        self.client_id, self.client_secret, self.tenant = client_id, client_secret, tenant
        self.token_lifetime = token_lifetime
        self.tokens: set[str] = set()
        self.issued: list[str] = []
        self._serial = itertools.count(1)
        self.records: dict[str, list[dict[str, Any]]] = {key: [] for key in ROUTES.values()}
        #: (list, id) of the rows a default-scoped sync must not yield
        self.out_of_scope: set[tuple[str, int]] = set()
        #: ids of the per-site "General User" placeholders (Halo knows them; no row field says so)
        self.general_users: set[int] = set()
        self.build(clients, assets_per_client, users_per_client)
        if out_of_scope:
            self.add_out_of_scope()

    def build(self, clients: int, assets: int, users: int) -> None:
        asset_id, user_id = 1000, 5000
        for n in range(1, clients + 1):
            client = {"id": n, "name": f"Halo Client {n:02d}", "toplevel_id": 1, "inactive": False,
                      "autotaskid": 29_682_000 + n if n % 2 else 0, "connectwiseid": 100 + n if n % 2 else 0}
            self.records["clients"].append(client)
            site = {"id": 100 + n, "name": f"HQ {n:02d}", "client_id": n, "client_name": client["name"],
                    "inactive": False}
            self.records["sites"].append(site)
            for k in range(assets):
                asset_id += 1
                self.records["assets"].append({
                    "id": asset_id, "inventory_number": f"TAG-{asset_id}", "key_field": f"HC{n:02d}-PC{k:02d}",
                    "key_field2": f"HSN{asset_id}", "key_field3": "", "inactive": False,
                    "datto_id": f"9c2d4b1e-{n:04d}-4000-8000-{k:012d}" if k == 0 else None,
                    "client_id": n, "client_name": client["name"], "site_id": site["id"], "site_name": site["name"],
                    "assettype_name": "Workstation"})
            for k in range(users):
                user_id += 1
                self.records["users"].append({
                    "id": user_id, "name": f"User {k} of {n:02d}", "firstname": f"User {k}", "surname": f"of {n:02d}",
                    "site_id": site["id"], "site_name": site["name"], "client_id": n, "client_name": client["name"],
                    "emailaddress": f"user{k}@client{n}.example", "inactive": False})

    def add_out_of_scope(self) -> None:
        """An inactive client, inactive assets and users, General Users, placeholder serials."""
        n = len(self.records["clients"]) + 1
        client = {"id": n, "name": "Gone Client", "toplevel_id": 1, "inactive": True, "autotaskid": 0,
                  "connectwiseid": 0}
        site = {"id": 100 + n, "name": "Gone HQ", "client_id": n, "client_name": client["name"], "inactive": False}
        self.records["clients"].append(client)
        self.records["sites"].append(site)
        self.out_of_scope |= {("clients", n), ("sites", site["id"])}
        owners = [(c, s) for c, s in zip(self.records["clients"], self.records["sites"])]
        for number, (owner, owner_site) in enumerate(owners):
            gone = owner["inactive"]
            asset = {"id": 1900 + number, "inventory_number": "", "key_field": f"RETIRED-{number}",
                     "key_field2": "RETIRED", "inactive": not gone, "client_id": owner["id"],
                     "client_name": owner["name"], "site_id": owner_site["id"], "site_name": owner_site["name"]}
            user = {"id": 5900 + number, "name": f"Former {number}", "emailaddress": f"former{number}@x.example",
                    "inactive": not gone, "site_id": owner_site["id"], "site_name": owner_site["name"],
                    "client_id": owner["id"], "client_name": owner["name"]}
            general = {"id": 5950 + number, "name": "General User", "emailaddress": "", "inactive": False,
                       "site_id": owner_site["id"], "site_name": owner_site["name"], "client_id": owner["id"],
                       "client_name": owner["name"]}
            self.records["assets"].append(asset)
            self.records["users"] += [user, general]
            self.general_users.add(general["id"])
            self.out_of_scope |= {("assets", asset["id"]), ("users", user["id"]), ("users", general["id"])}
        live = [a for a in self.records["assets"] if ("assets", a["id"]) not in self.out_of_scope]
        for asset, placeholder in zip(live, ("To Be Filled By O.E.M.", "Default string")):
            asset["key_field2"] = placeholder

    def item_count(self) -> int:
        """Items a sync with the default scope yields."""
        return sum(1 for key, rows in self.records.items() for row in rows
                   if (key, row.get("id") if isinstance(row, dict) else None) not in self.out_of_scope)

    def revoke_tokens(self) -> None:
        """Make every issued token invalid, as an expiry or a revocation on the server would."""
        self.tokens.clear()

    # ----------------------------------------------------------------- HTTP

    def handle(self, request: Request) -> Response:
        if request.path == "/auth/token":
            return self._token(request) if request.method == "POST" else Response(405)
        if request.path.startswith("/api/") and request.method == "GET":
            route = request.path.removeprefix("/api/").strip("/")
            if route not in ROUTES:
                return Response(404)
            token = request.headers.get("authorization", "").removeprefix("Bearer ")
            if token not in self.tokens:
                return Response(401, b"", {"WWW-Authenticate": 'Bearer error="invalid_token"'})
            return self._list(request, ROUTES[route])
        return Response("<html><body>Page not found</body></html>", 404, {"Content-Type": "text/html"})

    def _token(self, request: Request) -> Response:
        form = request.form()
        tenant = request.query.get("tenant") or form.get("tenant")
        if form.get("grant_type") != "client_credentials":
            return Response.json({"error": "unsupported_grant_type"}, 400)
        if (form.get("client_id"), form.get("client_secret")) != (self.client_id, self.client_secret) or (
                self.tenant is not None and tenant != self.tenant):
            return Response.json({"error": "invalid_client"}, 400)
        if form.get("scope") != "all":
            return Response.json({"error": "invalid_scope"}, 400)
        token = f"halo-token-{next(self._serial)}-xyz"
        self.tokens.add(token)
        self.issued.append(token)
        return Response.json({"access_token": token, "token_type": "Bearer", "expires_in": self.token_lifetime,
                              "scope": "all"})

    def _list(self, request: Request, key: str) -> Response:
        inactive = request.query.get("includeinactive", "").lower() == "true"
        general = request.query.get("exclude_generaluser", "").lower() != "true"

        def build() -> list[Any]:
            rows = self.records[key]
            if not inactive:
                rows = [r for r in rows if not (isinstance(r, dict) and r.get("inactive") is True)]
            if not general:
                rows = [r for r in rows if not (isinstance(r, dict) and r.get("id") in self.general_users)]
            return rows

        rows = self.view((key, inactive, general), build)
        if request.query.get("pageinate", "").lower() != "true":
            return Response.json({"record_count": len(rows), key: rows})
        try:
            size, number = int(request.query["page_size"]), int(request.query["page_no"])
        except (KeyError, ValueError):
            return Response.json({"ClassName": "ArgumentException", "message": "page_size and page_no required"}, 400)
        return Response.json({"page_no": number, "page_size": size, "record_count": len(rows),
                              key: page_window(rows, number, size)})
