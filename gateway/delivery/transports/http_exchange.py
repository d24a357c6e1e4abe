"""HTTP exchange: one request whose answer's body is read (a query, not a delivery).

The delivery transport (http.py) never reads a body; a query on scan needs the carrier's
answer. This is the same transport (one client per TLS identity, redirects never followed,
private addresses refused at connect time unless allowed), plus a bounded body read. Every
failure is an `ExchangeFailed` naming what went wrong, never a secret.
"""

from __future__ import annotations

import asyncio
import ssl

import httpx

from gateway.delivery.auth.base import AuthContext, AuthPlugin
from gateway.delivery.transports.addresses import TargetRefused
from gateway.delivery.transports.http import HttpTransport
from gateway.errors import OpenLockerError
from gateway.sdk.connectors import HttpRequest, ScanReply

__all__ = ["MAX_BODY", "ExchangeFailed", "HttpExchange"]

MAX_BODY = 64 * 1024  # an answer is a few hundred bytes; more is not read


class ExchangeFailed(Exception):
    """No usable answer: the text says why (timeout, refused address, TLS, credentials)."""


class HttpExchange(HttpTransport):
    async def exchange(
        self, request: HttpRequest, auth: AuthPlugin, *, context: AuthContext, timeout_s: float
    ) -> ScanReply:
        """Send `request` signed by `auth`; the answer within `timeout_s`, credentials included."""
        try:
            client = self._client(auth.ssl_context())
            async with asyncio.timeout(timeout_s):
                signed = await auth.apply(request, context, client)
                stream = client.stream(
                    signed.method, signed.url, content=signed.body, headers=dict(signed.headers)
                )
                async with stream as response:
                    body = b""
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        if len(body) > MAX_BODY:
                            raise ExchangeFailed(f"the answer is longer than {MAX_BODY} bytes")
                    headers = {k.lower(): v for k, v in response.headers.items()}
                    return ScanReply(response.status_code, body, headers)
        except TargetRefused as err:
            self._log_refusal(err)
            raise ExchangeFailed(str(err)) from None
        except (TimeoutError, httpx.TimeoutException):
            raise ExchangeFailed(f"no answer within {timeout_s:g} s") from None
        except httpx.HTTPError as err:
            raise ExchangeFailed(type(err).__name__) from None
        except OpenLockerError as err:
            raise ExchangeFailed(f"credentials unavailable: {err.description}") from None
        except (OSError, ValueError, ssl.SSLError) as err:
            raise ExchangeFailed(f"request not sent: {type(err).__name__}") from None
