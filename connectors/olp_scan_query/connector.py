"""The `olp-scan-query` connector: a scanned parcel the carrier never pre-advised, asked about.

The query is POSTed as compact JSON, `{"queryId", "carrierId", "lockerId", "parcelId",
"sizeClass"?, "networkId"?}`, with `Idempotency-Key: <queryId>`. The carrier answers 200 with
`{"decision": "accept" | "refuse" | "unknown", "sizeClass"?: "XS".."XL"}` (a size only with
accept), or 404 when it does not know the parcel (= unknown). Anything else is a problem the
gateway settles with its `[scan] ask_fallback`. Credentials are the attachment's auth plugin's.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from gateway.sdk.connectors import (
    Capability,
    CarrierScanAnswer,
    Connector,
    ConnectorConfig,
    ConnectorConfigError,
    HttpRequest,
    MappingError,
    ScanQueryView,
    ScanReply,
    ScanVerdict,
)

__all__ = ["USER_AGENT", "OlpScanQueryConfig", "OlpScanQueryConnector"]

USER_AGENT = "OpenLocker-ScanQuery/1.0"


class OlpScanQueryConfig(ConnectorConfig):
    """Where the carrier answers scan queries."""

    url: str


class OlpScanQueryConnector(Connector):
    name: ClassVar[str] = "olp-scan-query"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.SCAN_QUERY})
    config_model: ClassVar[type[ConnectorConfig]] = OlpScanQueryConfig

    def __init__(self, *, config: ConnectorConfig) -> None:
        if not isinstance(config, OlpScanQueryConfig):
            raise ConnectorConfigError("olp-scan-query: the config must be an OlpScanQueryConfig")
        super().__init__(config=config)
        self._url = config.url

    def render_scan_query(self, query: ScanQueryView) -> HttpRequest:
        body: dict[str, Any] = {
            "queryId": query.query_id,
            "carrierId": query.carrier_id,
            "lockerId": query.locker_id,
            "parcelId": query.parcel_id,
        }
        if query.size_class is not None:
            body["sizeClass"] = query.size_class
        if query.network_id is not None:
            body["networkId"] = query.network_id
        data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Idempotency-Key": query.query_id,
            "User-Agent": USER_AGENT,
        }
        return HttpRequest(url=self._url, body=data, headers=headers)

    def parse_scan_answer(self, reply: ScanReply) -> CarrierScanAnswer:
        if reply.status == 404:
            return CarrierScanAnswer(ScanVerdict.UNKNOWN)
        if reply.status != 200:
            raise MappingError(f"the carrier answered HTTP {reply.status}")
        try:
            data = json.loads(reply.body)
        except ValueError:
            raise MappingError("the answer is not JSON") from None
        if not isinstance(data, dict):
            raise MappingError("the answer is not a JSON object")
        decision = data.get("decision")
        if decision not in {v.value for v in ScanVerdict}:
            raise MappingError("must be accept, refuse or unknown", pointer="/decision")
        size = data.get("sizeClass")
        if size is not None and (not isinstance(size, str) or decision != ScanVerdict.ACCEPT):
            raise MappingError("a size class (XS..XL) only with accept", pointer="/sizeClass")
        try:
            return CarrierScanAnswer(ScanVerdict(decision), size)
        except ValueError as err:
            raise MappingError(str(err), pointer="/sizeClass") from None
