"""Adding headers to a rendered request without duplicating one the connector already set."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from gateway.sdk.connectors import HttpRequest

__all__ = ["with_headers"]


def with_headers(request: HttpRequest, headers: Mapping[str, str]) -> HttpRequest:
    """`request` with `headers` set, replacing a header of the same name in any letter case.

    Header names are case-insensitive; two spellings of one name would go out as two headers
    and a receiver may read the wrong one.
    """
    replaced = {name.lower() for name in headers}
    merged = {
        name: value for name, value in request.headers.items() if name.lower() not in replaced
    }
    merged.update(headers)
    return dataclasses.replace(request, headers=merged)
