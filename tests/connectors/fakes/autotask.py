"""A fake Autotask PSA REST API, as the vendor documents it.

- ``GET /atservicesrest/v1.0/zoneInformation?user=<user>`` needs no credentials
  and answers ``{"zoneName", "url", "webUrl", "ci"}``, or 404 for a user it does
  not know; ``url`` is the API root of the database's zone (``.../ATServicesRest/``).
- Every entity request must carry the ``ApiIntegrationCode``, ``UserName`` and
  ``Secret`` headers; any of them wrong or missing is a 401 that does not say which.
- ``POST /v1.0/{Entity}/query`` takes ``{"filter": [...]}`` (ops ``eq noteq gt gte
  lt lte exist notExist``, nested ``and``/``or``; conditions at the top level are
  ANDed), answers rows in id order, 500 a page, as ``{"items": [...],
  "pageDetails": {"count", "requestCount", "prevPageUrl", "nextPageUrl"}}``. The
  next page is a GET of ``nextPageUrl`` (``.../query/next?paging=...&search=...``),
  which carries the search and the last id seen, so paging is stateless.
- ``POST /v1.0/{Entity}/query/count`` answers ``{"queryCount": N}``.
- ``GET /v1.0/ThresholdInformation`` answers the database's limit and its use in the current
  hour (``externalRequestThreshold``, ``requestThresholdTimeframe`` in minutes,
  ``currentTimeframeRequestCount``): this fake's requests plus ``other_requests``, those the
  database's other integrations made.
- Paths are matched case-insensitively, as the IIS-hosted API does.

Beyond the base's path-matched :meth:`~FakeServer.fail`,
:meth:`FakeAutotask.fail_page` scripts a fault on one page of one entity's query.

Entities served: Companies, CompanyLocations, ConfigurationItems, Contacts, with
the fields a sync reads; Contacts.isActive is 1/0 as Autotask sends it. A query's
``IncludeFields`` answers only those fields (and ``id``). Configuration items carry
``serialNumber`` and, for half of them (as if audited by Datto RMM), the RMM fields
``rmmDeviceUID``, ``rmmDeviceAuditHostname`` and ``rmmDeviceAuditMacAddress`` (a list
written ``[mac, mac]``, as Autotask shows it). The last contact of each company is
inactive. With ``out_of_scope=True`` the database also holds a lead, a prospect, a
vendor and an inactive customer (each with a location, a device and a contact), an
inactive location and device per company, and placeholder serials.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable
from bisect import bisect_right
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from tests.connectors.fakes.wsgi import FakeServer, Limits, Request, Response

USERNAME = "sync-api@msp.example"
INTEGRATION_CODE = "TRACKING-7Q2X"
SECRET = "At-s3cret-value-9f8e7d"
PAGE_SIZE = 500
#: The entities the fake serves, as Autotask spells them in paths.
ENTITIES = ("Companies", "CompanyLocations", "ConfigurationItems", "Contacts")
#: When the fake's rows were last touched; ``changed`` rows are a month later.
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
CHANGED = EPOCH + timedelta(days=30)


def autotask_time(moment: datetime) -> str:
    """A datetime as Autotask writes it: UTC with milliseconds and a Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class FakeAutotask(FakeServer):
    """One Autotask database; ``changed`` ids (of any entity) were modified a month after the rest."""

    #: Autotask documents 10 000 requests an hour per database and 3 concurrent requests per
    #: endpoint (entity) per integration code.
    limits = Limits(rate=10_000, window=3600.0, concurrency=3, per_endpoint=True)

    def __init__(
        self,
        *,
        username: str = USERNAME,
        integration_code: str = INTEGRATION_CODE,
        secret: str = SECRET,
        companies: int = 3,
        locations_per_company: int = 2,
        devices_per_company: int = 4,
        contacts_per_company: int = 3,
        changed: frozenset[int] = frozenset(),
        zone_origin: str | None = None,
        page_size: int = PAGE_SIZE,
        out_of_scope: bool = False,
    ) -> None:
        super().__init__()
        self.username, self.integration_code, self.secret = username, integration_code, secret
        #: Origin the zone lookup points to; None: the origin the lookup was asked at.
        self.zone_origin = zone_origin
        self.page_size = page_size
        #: requests the database's other integrations made this hour (ThresholdInformation counts them)
        self.other_requests = 0
        self.entities: dict[str, list[dict[str, Any]]] = {name: [] for name in ENTITIES}
        #: (entity, 1-based page) -> responses to give instead, first first.
        self._page_faults: dict[tuple[str, int], list[Response]] = {}
        #: (entity, id) of the rows a default-scoped sync must not yield
        self.out_of_scope: set[tuple[str, int]] = set()
        self.build(companies, locations_per_company, devices_per_company, contacts_per_company, changed)
        if out_of_scope:
            self.add_out_of_scope()

    # ----------------------------------------------------------------- data

    def build(self, companies: int, locations: int, devices: int, contacts: int, changed: frozenset[int]) -> None:
        """Deterministic rows. Company 0 is the MSP's own, as in every Autotask database.

        Ids start high and differ per entity, as real ones do, so a connector
        cannot get away with treating them as positions.
        """
        def touched(ident: int) -> str:
            return autotask_time(CHANGED if ident in changed else EPOCH)

        for n in range(companies):
            company_id = 0 if n == 0 else 29_682_000 + n
            name = "Fake MSP (owner)" if n == 0 else f"Company {n:03d} Ltd"
            self.entities["Companies"].append({
                "id": company_id, "companyName": name, "companyNumber": f"C{n:04d}", "companyType": 1,
                "isActive": True, "phone": "555-0100", "lastActivityDate": touched(company_id),
            })
            for m in range(locations):
                self.entities["CompanyLocations"].append({
                    "id": 31_000 + n * 100 + m, "companyID": company_id, "name": f"{name} - Site {m + 1}",
                    "isActive": True, "isPrimary": m == 0, "city": "Springfield",
                })
            for m in range(devices):
                ident = 5_000_000 + n * 10_000 + m
                audited = m % 2 == 0
                self.entities["ConfigurationItems"].append({
                    "id": ident, "companyID": company_id, "referenceTitle": f"C{n:03d}-WS-{m:03d}",
                    "serialNumber": f"SN{n:03d}{m:05d}", "isActive": True, "configurationItemType": 1,
                    "rmmDeviceID": 600_000 + ident % 100_000 if audited else None,
                    "rmmDeviceUID": f"9c2d4b1e-{n:04d}-4000-8000-{m:012d}" if audited else None,
                    "rmmDeviceAuditHostname": f"c{n:03d}-ws-{m:03d}.corp.local" if audited else None,
                    "rmmDeviceAuditMacAddress": (f"[00:50:56:{n % 256:02x}:{m // 256 % 256:02x}:{m % 256:02x}, "
                                                 f"0a:00:27:00:00:{m % 256:02x}]") if audited else None,
                    "lastModifiedTime": touched(ident),
                })
            for m in range(contacts):
                ident = 30_700_000 + n * 1_000 + m
                self.entities["Contacts"].append({
                    "id": ident, "companyID": company_id, "firstName": f"Person{m}", "lastName": f"Of{n:03d}",
                    "emailAddress": f"p{m}@c{n:03d}.example", "isActive": 0 if m == contacts - 1 else 1,
                    "lastActivityDate": touched(ident), "lastModifiedDate": touched(ident),
                })

    def add_out_of_scope(self) -> None:
        """What a real database holds beside the MSP's active customers and their live items."""
        stamp = autotask_time(EPOCH)
        for number, (company_type, active) in enumerate(((2, True), (3, True), (7, True), (1, False)), start=1):
            company_id = 29_699_000 + number
            self.entities["Companies"].append({
                "id": company_id, "companyName": f"Other {number}", "companyNumber": f"O{number}",
                "companyType": company_type, "isActive": active, "lastActivityDate": stamp})
            rows = {"CompanyLocations": {"id": 39_000 + number, "companyID": company_id, "name": f"Other {number} HQ",
                                         "isActive": True},
                    "ConfigurationItems": {"id": 5_900_000 + number, "companyID": company_id,
                                           "referenceTitle": f"OTHER-{number}", "serialNumber": f"OTH{number}",
                                           "isActive": True, "lastModifiedTime": stamp},
                    "Contacts": {"id": 30_990_000 + number, "companyID": company_id, "firstName": "Rep",
                                 "lastName": f"Other{number}", "isActive": 1, "lastModifiedDate": stamp}}
            for entity, row in rows.items():
                self.entities[entity].append(row)
                self.out_of_scope.add((entity, row["id"]))
            self.out_of_scope.add(("Companies", company_id))
        for company in [c for c in self.entities["Companies"] if ("Companies", c["id"]) not in self.out_of_scope]:
            for entity, row in (
                    ("CompanyLocations", {"id": 38_000 + company["id"] % 1000, "companyID": company["id"],
                                          "name": f"{company['companyName']} - Closed", "isActive": False}),
                    ("ConfigurationItems", {"id": 5_800_000 + company["id"] % 1000, "companyID": company["id"],
                                            "referenceTitle": f"RETIRED-{company['id'] % 1000}", "isActive": False,
                                            "serialNumber": "RETIRED", "lastModifiedTime": stamp})):
                self.entities[entity].append(row)
                self.out_of_scope.add((entity, row["id"]))
        devices = [d for d in self.entities["ConfigurationItems"] if d["isActive"]]
        for device, placeholder in zip(devices, ("To Be Filled By O.E.M.", "System Serial Number", "N/A")):
            device["serialNumber"] = placeholder

    def item_count(self) -> int:
        """Items a sync with the default scope yields: active rows of active customers."""
        return sum(1 for entity, rows in self.entities.items() for row in rows
                   if (entity, row.get("id")) not in self.out_of_scope and row.get("isActive") not in (0, False))

    # ----------------------------------------------------------------- test controls

    def fail_page(self, status: int, *, entity: str, page: int, body: bytes | str | Any = b"",
                  headers: dict[str, str] | None = None, times: int = 1) -> None:
        """Answer page ``page`` (from 1) of ``entity``'s query with this, ``times`` times.

        Unlike :meth:`fail`, which matches a path, this leaves ``.../query/count``
        alone and can aim at any page: page 1 is the POST, later ones the GETs.
        """
        responses = self._page_faults.setdefault((entity.lower(), page), [])
        responses.extend(Response(status, body, dict(headers or {})) for _ in range(times))

    # ----------------------------------------------------------------- HTTP

    def handle(self, request: Request) -> Response:
        path = request.path.lower().rstrip("/")
        if path.endswith("/atservicesrest/v1.0/zoneinformation"):
            return self._zone(request) if request.method == "GET" else _errors(405, "use GET")
        parts = path.split("/")
        route = parts[parts.index("v1.0") + 1:] if "v1.0" in parts else []
        if route == ["thresholdinformation"] and request.method == "GET":
            return self._threshold() if self._authorised(request) else Response.json({"errors": ["Unauthorized"]},
                                                                                      401)
        entity = next((e for e in ENTITIES if route and e.lower() == route[0]), None)
        if entity is None:
            return _errors(404, f"no resource at {request.path}")
        if not self._authorised(request):
            return Response.json({"errors": ["Unauthorized"]}, 401)
        action = (request.method, "/".join(route[1:]))
        try:
            if action == ("POST", "query"):
                search, after, number = request.json(), None, 1
            elif action == ("GET", "query/next"):
                search = json.loads(request.query["search"])
                paging = json.loads(request.query["paging"])
                after, number = int(paging["lastId"]), int(paging["page"])
            elif action == ("POST", "query/count"):
                return Response.json({"queryCount": len(self._select(entity, request.json()))})
            else:
                return _errors(405, f"{request.method} {request.path} is not supported")
            # One row more than a page says whether another page follows.
            rows = self._select(entity, search, after=after, limit=self.page_size + 1)
        except (KeyError, ValueError, TypeError) as error:
            # Autotask answers a query it cannot run with a 500 and its reasons.
            return _errors(500, f"invalid query: {error}")
        scripted = self._page_faults.get((entity.lower(), number))
        if scripted:
            return scripted.pop(0)
        return self._page(request, entity, search, rows, after, number)

    def endpoint(self, request: Request) -> str:
        """Autotask counts concurrency per entity (``.../V1.0/Companies/query`` and its next pages alike)."""
        parts = request.path.lower().split("/")
        return parts[parts.index("v1.0") + 1] if "v1.0" in parts[:-1] else request.path

    def _authorised(self, request: Request) -> bool:
        headers = request.headers
        return (headers.get("apiintegrationcode") == self.integration_code
                and headers.get("username") == self.username and headers.get("secret") == self.secret)

    def _threshold(self) -> Response:
        """The database's request count in the current hour, as ``ThresholdInformation`` reports it:
        this fake's requests plus :attr:`other_requests` (other integrations of the database)."""
        return Response.json({"externalRequestThreshold": 10_000, "requestThresholdTimeframe": 60,
                              "currentTimeframeRequestCount": len(self.requests) + self.other_requests})

    def _zone(self, request: Request) -> Response:
        if request.query.get("user", "").lower() != self.username.lower():
            return _errors(404, "Zone information could not be determined for the user.")
        origin = self.zone_origin or request.origin
        return Response.json({"zoneName": "Fake Zone", "url": f"{origin}/ATServicesRest/",
                              "webUrl": f"{origin}/", "ci": 99})

    def _select(self, entity: str, search: Any, *, after: int | None = None,
                limit: int | None = None) -> list[dict[str, Any]]:
        """The rows ``search`` selects, in id order: those after id ``after`` alone, and no more
        than ``limit`` (scanning stops there, so a page of a large entity costs a page, not the
        entity: the benchmarks' 100k-item databases must not be bound by the fake's own work)."""
        filters = search.get("filter") if isinstance(search, dict) else None
        if not isinstance(filters, list) or not filters:
            raise ValueError("a query needs at least one filter")
        floor = _lowest_id(filters)
        if after is not None:
            floor = after if floor is None else max(floor, after)
        if self.static:  # the selection worked out once per query, then paged by bisection
            chosen = self.view((entity, json.dumps(filters, sort_keys=True)), lambda: [
                row for row in sorted(self.entities[entity], key=_id_or_minus_one)
                if all(_matches(row, f) for f in filters)])
            start = bisect_right(chosen, floor, key=_id_or_minus_one) if floor is not None else 0
            return chosen[start:] if limit is None else chosen[start:start + limit]
        rows = sorted(self.entities[entity], key=_id_or_minus_one)
        start = bisect_right(rows, floor, key=_id_or_minus_one) if floor is not None else 0
        selected: list[dict[str, Any]] = []
        for index in range(start, len(rows)):
            row = rows[index]
            if all(_matches(row, f) for f in filters):
                selected.append(row)
                if limit is not None and len(selected) >= limit:
                    break
        return selected

    def _page(self, request: Request, entity: str, search: Any, rows: list[dict[str, Any]],
              after: int | None, number: int) -> Response:
        """The page of ``rows`` (those after ``after``, one more than a page at most)."""
        items, more = rows[: self.page_size], len(rows) > self.page_size
        root = request.path[: request.path.lower().find("/v1.0/") + 1]  # ".../ATServicesRest/" as the client spelt it
        search_text = quote(json.dumps(search, separators=(",", ":")), safe="")

        def page_url(last_id: int, page: int) -> str:
            paging = quote(json.dumps({"pageSize": self.page_size, "lastId": last_id, "page": page}), safe="")
            return f"{request.origin}{root}V1.0/{entity}/query/next?paging={paging}&search={search_text}"

        fields = search.get("IncludeFields") if isinstance(search, dict) else None
        if fields:
            wanted = {f.lower() for f in fields} | {"id"}
            items = [{k: v for k, v in row.items() if k.lower() in wanted} for row in items]
        return Response.json({
            "items": items,
            "pageDetails": {
                "count": len(items), "requestCount": self.page_size,
                # Going back from page 2 means starting over; -1 stands for "before every id".
                "prevPageUrl": page_url(-1, number - 1) if number > 1 else None,
                "nextPageUrl": page_url(_id_or_minus_one(items[-1]), number + 1) if more else None,
            },
        })


# --------------------------------------------------------------------------- query evaluation


def _lowest_id(filters: list[Any]) -> int | None:
    """The id below which no row can match the top-level (ANDed) ``id gt/gte`` conditions, as
    ``id > that``: where a scan in id order may start."""
    lowest = None
    for condition in filters:
        if isinstance(condition, dict) and str(condition.get("field", "")).lower() == "id":
            value = condition.get("value")
            if isinstance(value, int) and not isinstance(value, bool) and condition.get("op") in ("gt", "gte"):
                bound = value if condition["op"] == "gt" else value - 1
                lowest = bound if lowest is None else max(lowest, bound)
    return lowest


def _field(row: dict[str, Any], name: str) -> Any:
    """A row's field, its name compared without case as Autotask's filters do."""
    if name in row:
        return row[name]
    lower = name.lower()
    return next((v for k, v in row.items() if k.lower() == lower), None)


def _matches(row: dict[str, Any], condition: dict[str, Any]) -> bool:
    op = condition["op"]
    if op in ("in", "notIn"):
        value = _field(row, condition["field"])
        return (value in condition["value"]) == (op == "in")
    if op in ("and", "or"):
        results = [_matches(row, item) for item in condition["items"]]
        return all(results) if op == "and" else any(results)
    value = _field(row, condition["field"])  # Autotask field names are case-insensitive in filters
    if op in ("exist", "notExist"):
        return (value is not None) == (op == "exist")
    if value is None:
        return False
    compare = _COMPARISONS.get(op)
    if compare is None:
        raise ValueError(f"unknown op {op!r}")
    return compare(_comparable(value), _comparable(condition["value"]))


_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq, "noteq": operator.ne, "gt": operator.gt, "gte": operator.ge, "lt": operator.lt,
    "lte": operator.le,
}


def _comparable(value: Any) -> Any:
    """Datetimes compare as instants, not strings: "...Z" and "+00:00" are the same moment."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return value
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return value


def _id_or_minus_one(row: Any) -> int:
    ident = row.get("id") if isinstance(row, dict) else None
    return ident if isinstance(ident, int) and not isinstance(ident, bool) else -1


def _errors(status: int, message: str) -> Response:
    return Response.json({"errors": [message]}, status)
