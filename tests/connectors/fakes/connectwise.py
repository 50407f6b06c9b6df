"""A fake ConnectWise Manage server, as the vendor documents the REST API 3.0.

- ``GET /login/companyinfo/{companyId}`` is public and names the ``Codebase``.
- The API answers under ``/{codebase}apis/3.0/`` only, to Basic
  ``companyId+publicKey:privateKey`` with a ``clientId`` header; anything else is a 401.
- Lists page with ``page`` (from 1) and ``pageSize`` (default 25, at most 1000),
  and link the next and last pages in a ``Link`` header; with the header
  ``pagination-type: forward-only`` they page by a ``pageId`` cursor instead.
- ``conditions=lastUpdated>[ISO]`` filters on ``_info.lastUpdated``.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from tests.connectors.fakes.wsgi import FakeServer, Request, Response, page_window

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 1000
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
_CONDITION = re.compile(r"^\s*lastUpdated\s*>\s*\[([^\]]+)\]\s*$")


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeConnectWise(FakeServer):
    """Companies, their sites, configurations and contacts; ``changed`` ones have a later lastUpdated."""

    def __init__(
        self,
        *,
        company_id: str = "acmemsp",
        public_key: str = "pubKEY123",
        private_key: str = "s3cr3t-PRIVATE-key",
        client_id: str = "9f2d6a8e-client",
        codebase: str = "v2025_1/",
        companies: int = 3,
        configurations_per_company: int = 4,
        contacts_per_company: int = 2,
        changed_ids: frozenset[int] = frozenset(),
    ) -> None:
        super().__init__()
        self.company_id, self.public_key, self.private_key, self.client_id = (
            company_id, public_key, private_key, client_id)
        self.codebase = codebase
        self.entities: dict[str, list[dict[str, Any]]] = {"companies": [], "configurations": [], "contacts": []}
        self.sites: dict[int, list[dict[str, Any]]] = {}
        self.build(companies, configurations_per_company, contacts_per_company, changed_ids)

    # ----------------------------------------------------------------- data

    def build(self, companies: int, configurations: int, contacts: int, changed: frozenset[int]) -> None:
        """Deterministic rows; ids in ``changed`` (any entity) are updated a day after the rest."""
        def info(ident: int) -> dict[str, str]:
            moment = EPOCH + timedelta(days=30 if ident in changed else 0)
            return {"lastUpdated": _stamp(moment), "updatedBy": "api"}

        site_id, config_id, contact_id = 500, 2000, 7000
        for n in range(1, companies + 1):
            company_id = 100 + n
            identifier = f"Client{n:03d}"
            name = f"Client {n:03d} Ltd"
            ref = {"id": company_id, "identifier": identifier, "name": name}
            self.entities["companies"].append(
                {"id": company_id, "identifier": identifier, "name": name, "_info": info(company_id)})
            self.sites[company_id] = []
            for label in ("Main", "Branch"):
                site_id += 1
                self.sites[company_id].append(
                    {"id": site_id, "name": f"{label} {identifier}", "company": ref, "_info": info(site_id)})
            for k in range(configurations):
                config_id += 1
                self.entities["configurations"].append(
                    {"id": config_id, "name": f"C{n:03d}-WS-{k:02d}", "company": ref,
                     "type": {"id": 1, "name": "Workstation"}, "_info": info(config_id)})
            for k in range(contacts):
                contact_id += 1
                self.entities["contacts"].append(
                    {"id": contact_id, "firstName": f"First{k}", "lastName": f"Last{n:03d}", "company": ref,
                     "_info": info(contact_id)})

    def item_count(self) -> int:
        return sum(map(len, self.entities.values())) + sum(map(len, self.sites.values()))

    # ----------------------------------------------------------------- HTTP

    def handle(self, request: Request) -> Response:
        if request.method != "GET":
            return Response.json({"code": "NotFound", "message": "Method not allowed"}, 405)
        if request.path.startswith("/login/companyinfo/"):
            return self._company_info(request.path.rsplit("/", 1)[-1])
        prefix = f"/{self.codebase}apis/3.0/"
        if not request.path.startswith(prefix):
            return Response("<html><body>Not Found</body></html>", 404, {"Content-Type": "text/html"})
        refusal = self._check_auth(request)
        if refusal is not None:
            return refusal
        route = request.path.removeprefix(prefix).strip("/")
        if route in ("company/companies", "company/configurations", "company/contacts"):
            rows = self.entities[route.split("/")[1]]
        elif (match := re.fullmatch(r"company/companies/(\d+)/sites", route)) is not None:
            if int(match[1]) not in self.sites:
                return Response.json({"code": "NotFound", "message": "Company not found"}, 404)
            rows = self.sites[int(match[1])]
        else:
            return Response.json({"code": "NotFound", "message": f"Route {route} not found"}, 404)
        return self._list(request, rows)

    def _company_info(self, company: str) -> Response:
        if company.lower() != self.company_id.lower():
            return Response.json({"code": "NotFound", "message": "Company not found"}, 404)
        return Response.json({
            "CompanyName": "Acme MSP", "Codebase": self.codebase, "VersionCode": "v2025.1",
            "VersionNumber": "v4.6.12345", "CompanyID": self.company_id, "IsCloud": True,
        })

    def _check_auth(self, request: Request) -> Response | None:
        expected = f"{self.company_id}+{self.public_key}:{self.private_key}"
        header = request.headers.get("authorization", "")
        try:
            given = base64.b64decode(header.removeprefix("Basic "), validate=True).decode()
        except ValueError:
            given = None
        if not header.startswith("Basic ") or given != expected:
            return Response.json({"code": "Unauthorized", "message": "Authentication failed"}, 401)
        if request.headers.get("clientid") != self.client_id:
            return Response.json({"code": "Unauthorized", "message": "clientId header missing or unknown"}, 401)
        return None

    def _list(self, request: Request, rows: list[dict[str, Any]]) -> Response:
        query = request.query
        try:
            size = min(MAX_PAGE_SIZE, int(query.get("pageSize", DEFAULT_PAGE_SIZE)))
            number = int(query.get("page", 1))
        except ValueError:
            return Response.json({"code": "InvalidObject", "message": "page and pageSize must be numbers"}, 400)
        if "conditions" in query:
            match = _CONDITION.match(query["conditions"])
            if match is None:
                return Response.json({"code": "InvalidObject", "message": "conditions not understood"}, 400)
            after = datetime.fromisoformat(match[1].replace("Z", "+00:00"))
            rows = [r for r in rows if datetime.fromisoformat(
                r["_info"]["lastUpdated"].replace("Z", "+00:00")) > after]
        rows = sorted(rows, key=lambda r: r["id"] if isinstance(r.get("id"), int) else 0)
        base = f"{request.origin}{request.path}"
        keep = {k: v for k, v in query.items() if k not in ("page", "pageId")}
        if request.headers.get("pagination-type") == "forward-only":
            if "orderBy" in query:
                return Response.json({"code": "InvalidObject",
                                      "message": "orderBy is not supported with forward-only pagination"}, 400)
            after_id = int(query.get("pageId", 0))
            remaining = [r for r in rows if r["id"] > after_id]
            window = remaining[:size]
            links = []
            if len(remaining) > size:
                links.append(f'<{base}?{urlencode({**keep, "pageId": window[-1]["id"]})}>; rel="next"')
        else:
            window = page_window(rows, number, size)
            last = max(1, -(-len(rows) // size))
            links = []
            if number < last:
                links.append(f'<{base}?{urlencode({**keep, "page": number + 1})}>; rel="next"')
            links.append(f'<{base}?{urlencode({**keep, "page": last})}>; rel="last"')
        headers = {"Link": ", ".join(links)} if links else {}
        return Response.json(window, headers=headers)
