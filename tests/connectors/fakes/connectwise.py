"""A fake ConnectWise Manage server, as the vendor documents the REST API 3.0.

- ``GET /login/companyinfo/{companyId}`` is public and names the ``Codebase``.
- The API answers under ``/{codebase}apis/3.0/`` only, to Basic
  ``companyId+publicKey:privateKey`` with a ``clientId`` header; anything else is a 401.
- Lists page with ``page`` (from 1) and ``pageSize`` (default 25, at most 1000),
  and link the next and last pages in a ``Link`` header; with the header
  ``pagination-type: forward-only`` they page by a ``pageId`` cursor instead.
- ``conditions`` filters rows: clauses joined by ``and``, each ``path op value`` with
  ``= != > < >= <=``, values ``true``/``false``, numbers, ``"text"`` and ``[ISO time]``
  (``lastUpdated`` is read from ``_info``); ``childConditions`` does the same on arrays
  of objects (``types/name="Client"``: any element matches).
- ``fields=a,b/c`` answers only those fields (nested ones under their parent).
- Rows carry what the vendor sends: companies their ``status``, ``types`` and
  ``deletedFlag``; configurations ``serialNumber``, ``macAddress``, ``tagNumber``,
  ``activeFlag`` and ``status``; contacts ``inactiveFlag`` and ``communicationItems``.
  With ``out_of_scope=True`` the fake also holds what an MSP's database holds beside
  its clients: a vendor, a prospect, an inactive and a deleted company (each with a
  configuration and a contact), an inactive configuration and an inactive contact per
  company, and placeholder serials.
"""

from __future__ import annotations

import bisect

import base64
import operator
import re
from datetime import UTC, datetime, timedelta
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from tests.connectors.fakes.wsgi import FakeServer, Request, Response, page_window

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 1000
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
_CLAUSE = re.compile(r'^\s*([\w/]+)\s*(!=|>=|<=|=|>|<)\s*(true|false|-?\d+|"[^"]*"|\[[^\]]+\])\s*$', re.I)


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
        out_of_scope: bool = False,
    ) -> None:
        super().__init__()
        self.company_id, self.public_key, self.private_key, self.client_id = (
            company_id, public_key, private_key, client_id)
        self.codebase = codebase
        self.entities: dict[str, list[dict[str, Any]]] = {"companies": [], "configurations": [], "contacts": []}
        self.sites: dict[int, list[dict[str, Any]]] = {}
        #: ids of the rows a default-scoped sync must not yield
        self.out_of_scope_ids: set[int] = set()
        self.build(companies, configurations_per_company, contacts_per_company, changed_ids)
        if out_of_scope:
            self.add_out_of_scope()

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
                {"id": company_id, "identifier": identifier, "name": name, "status": {"id": 1, "name": "Active"},
                 "types": [{"id": 1, "name": "Client"}], "deletedFlag": False, "_info": info(company_id)})
            self.sites[company_id] = []
            for label in ("Main", "Branch"):
                site_id += 1
                self.sites[company_id].append(
                    {"id": site_id, "name": f"{label} {identifier}", "company": ref, "_info": info(site_id)})
            for k in range(configurations):
                config_id += 1
                self.entities["configurations"].append(
                    {"id": config_id, "name": f"C{n:03d}-WS-{k:02d}", "company": ref,
                     "type": {"id": 1, "name": "Workstation"}, "status": {"id": 1, "name": "Active"},
                     "activeFlag": True, "serialNumber": f"CWSN{config_id}", "tagNumber": f"ASSET-{k:04d}",
                     "macAddress": f"00:1A:{n >> 8 & 255:02X}:{n & 255:02X}:{k >> 8 & 255:02X}:{k & 255:02X}",
                     "deviceIdentifier": "", "_info": info(config_id)})
            for k in range(contacts):
                contact_id += 1
                self.entities["contacts"].append(
                    {"id": contact_id, "firstName": f"First{k}", "lastName": f"Last{n:03d}", "company": ref,
                     "inactiveFlag": False, "communicationItems": [
                         {"id": contact_id * 10, "type": {"id": 2, "name": "Direct"}, "value": "555-0100",
                          "defaultFlag": True, "communicationType": "Phone"},
                         {"id": contact_id * 10 + 1, "type": {"id": 1, "name": "Email"},
                          "value": f"first{k}@client{n:03d}.example", "defaultFlag": True,
                          "communicationType": "Email"}],
                     "_info": info(contact_id)})

    def add_out_of_scope(self) -> None:
        """What a real database holds beside the MSP's active clients and their live items."""
        info = {"lastUpdated": _stamp(EPOCH), "updatedBy": "api"}
        kinds = (("Vendor", "Active", False), ("Prospect", "Active", False), ("Client", "Inactive", False),
                 ("Client", "Active", True))
        for number, (type_name, status, deleted) in enumerate(kinds, start=1):
            company_id, config_id, contact_id = 900 + number, 2900 + number, 7900 + number
            ref = {"id": company_id, "identifier": f"Other{number}", "name": f"Other {number} ({type_name})"}
            self.entities["companies"].append({
                **ref, "status": {"id": 2, "name": status}, "types": [{"id": 9, "name": type_name}],
                "deletedFlag": deleted, "_info": info})
            self.sites[company_id] = [{"id": 990 + number, "name": f"Main Other{number}", "company": ref,
                                       "_info": info}]
            self.entities["configurations"].append({
                "id": config_id, "name": f"OTHER-{number}", "company": ref, "activeFlag": True,
                "status": {"id": 1, "name": "Active"}, "serialNumber": f"OTH{number}", "_info": info})
            self.entities["contacts"].append({
                "id": contact_id, "firstName": "Rep", "lastName": f"Other{number}", "company": ref,
                "inactiveFlag": False, "communicationItems": [], "_info": info})
            self.out_of_scope_ids |= {company_id, 990 + number, config_id, contact_id}
        for company in self.entities["companies"][:]:
            if company["id"] in self.out_of_scope_ids:
                continue
            ref = {key: company[key] for key in ("id", "identifier", "name")}
            retired, left = 3000 + company["id"], 8000 + company["id"]
            self.entities["configurations"].append({
                "id": retired, "name": f"{company['identifier']}-OLD", "company": ref, "activeFlag": False,
                "status": {"id": 3, "name": "Inactive"}, "serialNumber": f"OLD{retired}", "_info": info})
            self.entities["contacts"].append({
                "id": left, "firstName": "Former", "lastName": company["identifier"], "company": ref,
                "inactiveFlag": True, "communicationItems": [], "_info": info})
            self.out_of_scope_ids |= {retired, left}
        # Placeholders as OEM firmware and people write them: kept as sent, judged by the core.
        configurations = [c for c in self.entities["configurations"] if c["id"] not in self.out_of_scope_ids]
        for config, placeholder in zip(configurations, ("To Be Filled By O.E.M.", "Default string", "0")):
            config["serialNumber"] = placeholder

    def item_count(self) -> int:
        """Items a sync with the default scope yields (what is out of scope is left out)."""
        rows = [r for group in (*self.entities.values(), *self.sites.values()) for r in group]
        return sum(1 for r in rows if r.get("id") not in self.out_of_scope_ids)

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
        tests = []
        for key in ("conditions", "childConditions"):
            if key in query:
                try:
                    clauses = [_clause(text) for text in re.split(r"\s+and\s+", query[key], flags=re.I)]
                except ValueError as error:
                    return Response.json({"code": "InvalidObject", "message": f"{key} not understood: {error}"}, 400)
                tests += [_test(clause) for clause in clauses]
        every = rows
        rows = self.view((request.path, query.get("conditions"), query.get("childConditions")),
                         lambda: sorted((r for r in every if all(test(r) for test in tests)), key=_id_or_zero))
        base = f"{request.origin}{request.path}"
        keep = {k: v for k, v in query.items() if k not in ("page", "pageId")}
        if request.headers.get("pagination-type") == "forward-only":
            if "orderBy" in query:
                return Response.json({"code": "InvalidObject",
                                      "message": "orderBy is not supported with forward-only pagination"}, 400)
            after_id = int(query.get("pageId", 0))
            start = bisect.bisect_right(rows, after_id, key=_id_or_zero)
            window = rows[start:start + size]
            links = []
            if len(rows) - start > size:
                links.append(f'<{base}?{urlencode({**keep, "pageId": window[-1]["id"]})}>; rel="next"')
        else:
            window = page_window(rows, number, size)
            last = max(1, -(-len(rows) // size))
            links = []
            if number < last:
                links.append(f'<{base}?{urlencode({**keep, "page": number + 1})}>; rel="next"')
            links.append(f'<{base}?{urlencode({**keep, "page": last})}>; rel="last"')
        headers = {"Link": ", ".join(links)} if links else {}
        if "fields" in query:
            window = [_only(row, query["fields"].split(",")) for row in window]
        return Response.json(window, headers=headers)


_OPS = {"=": operator.eq, "!=": operator.ne, ">": operator.gt, "<": operator.lt, ">=": operator.ge,
        "<=": operator.le}


def _clause(text: str) -> tuple[list[str], str, Any]:
    match = _CLAUSE.match(text)
    if match is None:
        raise ValueError(text)
    raw = match[3]
    if raw.lower() in ("true", "false"):
        value: Any = raw.lower() == "true"
    elif raw.startswith('"'):
        value = raw[1:-1]
    elif raw.startswith("["):
        value = datetime.fromisoformat(raw[1:-1].replace("Z", "+00:00"))
    else:
        value = int(raw)
    path = match[1].split("/")
    return (["_info", "lastUpdated"] if path == ["lastUpdated"] else path), match[2], value


def _id_or_zero(row: Any) -> int:
    ident = row.get("id") if isinstance(row, dict) else None
    return ident if isinstance(ident, int) else 0


def _test(clause: tuple[list[str], str, Any]) -> Callable[[dict[str, Any]], bool]:
    """``_holds`` for one clause, quicker where the clause names one plain field (most do): a page
    of a 100k-item database must not cost the fake more than the product's own answer would."""
    path, op, expected = clause
    if len(path) != 1 or isinstance(expected, datetime):
        return lambda row: _holds(row, clause)
    key, compare = path[0], _OPS[op]

    def test(row: dict[str, Any]) -> bool:
        value = row.get(key, _MISSING) if isinstance(row, dict) else _MISSING
        if value is _MISSING or isinstance(value, list | dict):
            return _holds(row, clause)
        try:
            return bool(compare(value, expected))
        except TypeError:
            return False

    return test


_MISSING = object()


def _values(row: Any, path: list[str]) -> list[Any]:
    """The values at ``path``; through an array, those of every element (childConditions)."""
    if not path:
        return [row]
    if isinstance(row, list):
        return [v for element in row for v in _values(element, path)]
    if not isinstance(row, dict) or path[0] not in row:
        return []
    return _values(row[path[0]], path[1:])


def _holds(row: dict[str, Any], clause: tuple[list[str], str, Any]) -> bool:
    path, op, expected = clause
    for value in _values(row, path):
        if isinstance(expected, datetime) and isinstance(value, str):
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        try:
            if _OPS[op](value, expected):
                return True
        except TypeError:
            continue
    return False


def _only(row: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """``row`` with only ``fields`` (``company/id`` keeps ``company`` with its ``id``)."""
    kept: dict[str, Any] = {}
    for field in (f.strip() for f in fields):
        head, _, rest = field.partition("/")
        if head not in row:
            continue
        if rest and isinstance(row[head], dict):
            kept.setdefault(head, {}).update(_only(row[head], [rest]))
        else:
            kept[head] = row[head]
    return kept
