"""Paging helpers: the three ways the vendors hand out a list's pages.

- :func:`follow_links`: a ``Link: <...>; rel="next"`` header (ConnectWise);
- :func:`follow_next_urls`: a next-page URL in the body (Autotask and Datto RMM ``nextPageUrl``);
- :func:`page_numbers`: page numbers until the product signals the last page (HaloPSA).

A next link is followed only to the origin the list was asked at (the credentials ride on
every request) and never twice (a server whose paging loops stops the sync with a line that
says so), and no helper follows more than :data:`MAX_PAGES` pages.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from syncview.connectors.http.errors import _path
from syncview.errors import ConnectorError

if TYPE_CHECKING:
    from syncview.connectors.http.client import HttpClient

#: Upper bound on pages a helper follows, so a server that always answers "next" cannot loop forever.
MAX_PAGES = 100_000

T = TypeVar("T")


def _same_origin(a: httpx.URL, b: httpx.URL) -> bool:
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)


def _next_target(client: HttpClient, current: httpx.URL, link: str, seen: set[str]) -> httpx.URL:
    """Resolve a server-given next-page link, refusing loops and other hosts."""
    target = current.join(link)
    if not _same_origin(target, current):
        # Our credentials ride on every request: never send them to a host the server merely named.
        raise ConnectorError(client.redact(
            f"{client.integration}: {current.path} gave a next-page link to another host ({target.host}); "
            "syncview does not send credentials there"))
    if str(target) in seen:
        raise ConnectorError(client.redact(
            f"{client.integration}: {current.path} gave a next-page link already fetched ({target.path}); "
            "the server's paging loops, so the sync stopped"))
    return target


def follow_links(
    client: HttpClient,
    url: str | httpx.URL,
    *,
    params: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    max_pages: int = MAX_PAGES,
) -> Generator[httpx.Response, None, None]:
    """GET ``url`` and every page its ``Link: <...>; rel="next"`` header points to, in order.

    Only the first request carries ``params``: next links hold the full query.
    """
    response = client.get(url, params=params, headers=headers)
    seen = {str(response.request.url)}
    for _ in range(max_pages):
        yield response
        link = response.links.get("next", {}).get("url")
        if not link:
            return
        target = _next_target(client, response.request.url, link, seen)
        seen.add(str(target))
        response = client.get(target, headers=headers)
    raise ConnectorError(f"{client.integration}: more than {max_pages} pages from {_path(response)}; stopped")


def follow_next_urls(
    client: HttpClient,
    method: str,
    url: str | httpx.URL,
    *,
    next_url: Callable[[Any], str | None],
    expect: type | tuple[type, ...] = dict,
    params: Mapping[str, Any] | None = None,
    json: Any = None,
    headers: Mapping[str, str] | None = None,
    next_method: str = "GET",
    max_pages: int = MAX_PAGES,
) -> Iterator[Any]:
    """Yield decoded JSON pages, following the URL ``next_url(body)`` returns until it gives none.

    For APIs whose body names the next page (Autotask ``pageDetails.nextPageUrl``,
    Datto ``pageDetails.nextPageUrl``). The first request is ``method`` with
    ``params``/``json``; later ones are ``next_method`` on the given URL alone.
    """
    response = client.request(method, url, params=params, json=json, headers=headers)
    seen = {str(response.request.url)}
    for _ in range(max_pages):
        body = client.decode_json(response, expect=expect)
        yield body
        link = next_url(body)
        if not link:
            return
        target = _next_target(client, response.request.url, link, seen)
        seen.add(str(target))
        response = client.request(next_method, target, headers=headers)
    raise ConnectorError(f"{client.integration}: more than {max_pages} pages from {_path(response)}; stopped")


def page_numbers(
    fetch: Callable[[int], T],
    *,
    is_last: Callable[[T, int], bool],
    first: int = 1,
    max_pages: int = MAX_PAGES,
) -> Iterator[T]:
    """Yield ``fetch(n)`` for n = first, first+1, ... until ``is_last(page, n)`` says so.

    ``is_last`` typically checks an empty or short page, or a reported total reached.
    """
    for number in range(first, first + max_pages):
        page = fetch(number)
        yield page
        if is_last(page, number):
            return
    raise ConnectorError(f"more than {max_pages} pages; the server never signalled the last one, so the sync stopped")

