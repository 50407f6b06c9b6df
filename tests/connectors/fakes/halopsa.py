"""A fake HaloPSA server, as the vendor documents the Halo API.

- ``POST /auth/token`` takes the form ``grant_type=client_credentials, client_id,
  client_secret, scope=all`` (and the ``tenant`` as a query parameter or form
  field when the instance is hosted); a wrong one is an OAuth ``invalid_client`` (400).
- ``/api/Client``, ``/api/Site``, ``/api/Asset``, ``/api/Users`` want
  ``Authorization: Bearer <token>`` (401 otherwise, also once a token is revoked),
  page with ``pageinate=true``, ``page_size`` and ``page_no`` (from 1), and answer
  ``{"record_count": N, "clients"|"sites"|"assets"|"users": [...]}``; past the
  end a page is empty.
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
    ) -> None:
        super().__init__()
        self.client_id, self.client_secret, self.tenant = client_id, client_secret, tenant
        self.token_lifetime = token_lifetime
        self.tokens: set[str] = set()
        self.issued: list[str] = []
        self._serial = itertools.count(1)
        self.records: dict[str, list[dict[str, Any]]] = {key: [] for key in ROUTES.values()}
        self.build(clients, assets_per_client, users_per_client)

    def build(self, clients: int, assets: int, users: int) -> None:
        asset_id, user_id = 1000, 5000
        for n in range(1, clients + 1):
            client = {"id": n, "name": f"Halo Client {n:02d}", "toplevel_id": 1, "inactive": False}
            self.records["clients"].append(client)
            site = {"id": 100 + n, "name": f"HQ {n:02d}", "client_id": n, "client_name": client["name"]}
            self.records["sites"].append(site)
            for k in range(assets):
                asset_id += 1
                self.records["assets"].append({
                    "id": asset_id, "inventory_number": f"TAG-{asset_id}", "key_field": f"HC{n:02d}-PC{k:02d}",
                    "client_id": n, "client_name": client["name"], "site_id": site["id"], "site_name": site["name"],
                    "assettype_name": "Workstation"})
            for k in range(users):
                user_id += 1
                self.records["users"].append({
                    "id": user_id, "name": f"User {k} of {n:02d}", "firstname": f"User {k}", "surname": f"of {n:02d}",
                    "site_id": site["id"], "site_name": site["name"], "client_name": client["name"],
                    "emailaddress": f"user{k}@client{n}.example"})

    def item_count(self) -> int:
        return sum(map(len, self.records.values()))

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
        rows = self.records[key]
        if request.query.get("pageinate", "").lower() != "true":
            return Response.json({"record_count": len(rows), key: rows})
        try:
            size, number = int(request.query["page_size"]), int(request.query["page_no"])
        except (KeyError, ValueError):
            return Response.json({"ClassName": "ArgumentException", "message": "page_size and page_no required"}, 400)
        return Response.json({"page_no": number, "page_size": size, "record_count": len(rows),
                              key: page_window(rows, number, size)})
