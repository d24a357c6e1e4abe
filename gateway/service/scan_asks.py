"""Query on scan, policy `ask`: the carrier's own `scan-query` connector says accept or refuse.

`ScanAsker.ask` is called by ScanQueries between two transactions, never inside one: it reads
the carrier's active attachments (a short transaction of its own), picks the first whose
connector declares `scan-query`, renders the query, signs it with the attachment's auth
plugin and sends it through the SSRF-guarded HTTP exchange within `[scan] ask_timeout`.
Whatever keeps a usable answer from coming back (no such attachment, a timeout, 401, 429,
5xx, an unreadable body) is an `Asked` without an answer and a one-line warning; the caller
then applies `[scan] ask_fallback`. A 401 drops the plugin's cached credentials for the next
scan; nothing is retried within one scan (the courier is waiting at the door).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx

from gateway.clock import Clock, utc_now
from gateway.delivery.attachment_routes import AttachmentRoutes, BuiltAttachment
from gateway.delivery.auth import AuthContext
from gateway.delivery.transports.addresses import Network
from gateway.delivery.transports.http_exchange import ExchangeFailed, HttpExchange
from gateway.domain.scan import ScanQuery
from gateway.sdk.connectors import (
    Capability,
    CarrierScanAnswer,
    MappingError,
    ScanQueryView,
    load_connector_class,
)
from gateway.sdk.connectors.errors import ConnectorConfigError
from gateway.store import Store

__all__ = ["DEFAULT_ASK_TIMEOUT", "Asked", "ScanAsker"]

# Kept back from the locker's call expiry for deciding after the ask and sending the reply.
ANSWER_MARGIN_S = 0.5

log = logging.getLogger(__name__)

DEFAULT_ASK_TIMEOUT = timedelta(seconds=3)


@dataclass(frozen=True, slots=True)
class Asked:
    """What asking one carrier gave: its answer, or why there is none."""

    carrier_id: str
    answer: CarrierScanAnswer | None
    problem: str | None = None
    attachment_id: str | None = None

    def details(self) -> dict[str, Any]:
        """For the scan's audit record."""
        found: dict[str, Any] = {"carrierId": self.carrier_id}
        if self.attachment_id is not None:
            found["attachmentId"] = self.attachment_id
        if self.answer is not None:
            found["answer"] = str(self.answer.verdict)
            if self.answer.size_class is not None:
                found["sizeClass"] = self.answer.size_class
        else:
            found["problem"] = self.problem
        return found


class ScanAsker:
    def __init__(
        self,
        *,
        store: Store,
        routes: AttachmentRoutes,
        timeout: timedelta = DEFAULT_ASK_TIMEOUT,
        network_id: str | None = None,
        clock: Clock = utc_now,
        allow_private: Iterable[Network] = (),
        transport: httpx.AsyncBaseTransport | None = None,  # tests only
    ) -> None:
        self._store = store
        self._routes = routes
        self.timeout = timeout
        self._network_id = network_id
        self._clock = clock
        self._http = HttpExchange(
            max_connections=8, clock=clock, transport=transport, allow_private=allow_private
        )

    async def aclose(self) -> None:
        await self._http.__aexit__(None, None, None)

    async def ask(self, carrier_id: str, query: ScanQuery) -> Asked:
        """The carrier's answer about `query`; never raises for the carrier's failures."""
        built = await self._attachment(carrier_id)
        if built is None:
            return self._none(carrier_id, query, "no active scan-query connector")
        attachment_id = built.record.id
        view = ScanQueryView(
            query_id=str(uuid.uuid4()),
            carrier_id=carrier_id,
            locker_id=query.locker_id,
            parcel_id=query.parcel_id,
            size_class=None if query.size_class is None else str(query.size_class),
            network_id=self._network_id,
        )
        try:
            request = built.connector.render_scan_query(view)
            context = AuthContext(
                event_id=view.query_id, attempt=1, unix_time=int(self._clock().timestamp())
            )
            timeout_s = self._timeout_s(query)
            if timeout_s <= 0:
                return self._none(carrier_id, query, "the locker stops waiting", attachment_id)
            reply = await self._http.exchange(
                request, built.auth, context=context, timeout_s=timeout_s
            )
            if reply.status == 401:
                built.auth.unauthorized()  # fresh credentials for the next scan
            if reply.status in {401, 403, 429} or reply.status >= 500:
                problem = f"HTTP {reply.status}"
                if reply.headers.get("retry-after"):
                    problem += f" (Retry-After {reply.headers['retry-after'][:40]})"
                return self._none(carrier_id, query, problem, attachment_id)
            answer = built.connector.parse_scan_answer(reply)
        except ExchangeFailed as err:
            return self._none(carrier_id, query, str(err), attachment_id)
        except MappingError as err:
            problem = f"unreadable answer: {err.description}"
            return self._none(carrier_id, query, problem, attachment_id)
        except Exception as err:  # a connector bug: its text might quote a secret, not shown
            problem = f"the connector failed ({type(err).__name__})"
            return self._none(carrier_id, query, problem, attachment_id)
        log.info(
            "locker %s: carrier %s answered %s for the scanned %s",
            query.locker_id,
            carrier_id,
            answer.verdict,
            query.parcel_id,
        )
        return Asked(carrier_id, answer, attachment_id=attachment_id)

    def _timeout_s(self, query: ScanQuery) -> float:
        """`ask_timeout`, cut short so the decision still reaches the locker before its call
        expires (a later answer would book and open a door for a courier told "no answer")."""
        timeout_s = self.timeout.total_seconds()
        if query.answer_by is None:
            return timeout_s
        left = (query.answer_by - self._clock()).total_seconds() - ANSWER_MARGIN_S
        return min(timeout_s, left)

    async def _attachment(self, carrier_id: str) -> BuiltAttachment | None:
        async with self._store.transaction() as tx:
            records = await tx.connector_attachments.list_active_for(carrier_id)
        for record in sorted(records, key=lambda r: r.id):
            if not _answers_scans(record.connector):
                continue
            built = await self._routes.attachment(record.id)
            if built is not None:
                return built
        return None

    @staticmethod
    def _none(
        carrier_id: str, query: ScanQuery, problem: str, attachment_id: str | None = None
    ) -> Asked:
        log.warning(
            "locker %s: no answer from carrier %s about the scanned %s: %s",
            query.locker_id,
            carrier_id,
            query.parcel_id,
            problem,
        )
        return Asked(carrier_id, None, problem, attachment_id)


def _answers_scans(connector: str) -> bool:
    try:
        return Capability.SCAN_QUERY in load_connector_class(connector).capabilities
    except ConnectorConfigError:
        return False
