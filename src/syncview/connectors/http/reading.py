"""Bounded reads: an answer is read within a size and a deadline, or not at all.

Each read has the client's ``timeout``, but a server sending a byte a second never trips it:
:func:`read_within` also bounds the whole request (``request_deadline``) and the size of the
answer as it is decoded (``max_response_bytes``), so that a gzip bomb stops at the bound
(see :mod:`syncview.bounded`). Either bound raises ``bounded.TooLarge`` or ``bounded.TooSlow``
with the connection closed; the client words them for the operator and does not retry them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import httpx

from syncview import bounded
from syncview.connectors.limits import ARRIVAL_DEADLINE

#: Seconds one request may take in all, answer included (config key ``request_deadline``): the
#: ``timeout`` bounds each read, and a server sending a byte a second never trips it. The shared
#: limiter counts on it: a request reaches the product within it (``limits.ARRIVAL_DEADLINE``).
REQUEST_DEADLINE = ARRIVAL_DEADLINE


def read_within(client: httpx.Client, request: httpx.Request, auth: Any, *, timeout: float, deadline: float,
                limit: int) -> httpx.Response:
    """Send ``request`` on ``client`` and read its answer within ``limit`` bytes (decoded) and
    ``deadline`` seconds; TooLarge or TooSlow otherwise, the connection closed."""
    ends = time.monotonic() + deadline
    # No single wait (connect, headers) may outlast the deadline either.
    request.extensions["timeout"] = httpx.Timeout(min(timeout, deadline)).as_dict()
    response = client.send(request, auth=auth, stream=True)
    try:
        encoding = response.headers.get("Content-Encoding", "").strip().lower()
        if hasattr(response, "_content"):  # a transport that built the answer in memory (tests' mocks)
            chunks: Iterable[bytes] = [response.content]
        elif encoding in bounded.INFLATABLE:  # decoded here, each step bounded (a gzip bomb)
            chunks = bounded.inflate(response.iter_raw(), encoding, limit=limit)
        else:  # anything else (br, several codings): httpx decodes it, counted chunk by chunk
            chunks = response.iter_bytes()
        body = b"".join(bounded.bounded_chunks(chunks, limit=limit, deadline=ends))
    except ValueError as error:
        raise httpx.DecodingError(str(error), request=request) from None
    finally:
        response.close()
    response._content = body  # what Response.read() stores; read here within the bounds
    return response
