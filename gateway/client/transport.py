"""httpx transports with TCP_NODELAY, for the client and for the benchmarks."""

from __future__ import annotations

import socket

import httpx

__all__ = ["nodelay_sync_transport", "nodelay_transport"]

_NODELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]


def nodelay_transport(limits: httpx.Limits | None = None) -> httpx.AsyncHTTPTransport:
    """An httpx transport with TCP_NODELAY: a POST's headers and body leave in separate
    writes, and Nagle's algorithm with delayed ACKs would hold the body back ~40 ms."""
    return httpx.AsyncHTTPTransport(limits=limits or httpx.Limits(), socket_options=_NODELAY)


def nodelay_sync_transport(limits: httpx.Limits | None = None) -> httpx.HTTPTransport:
    """The same for the blocking client."""
    return httpx.HTTPTransport(limits=limits or httpx.Limits(), socket_options=_NODELAY)
