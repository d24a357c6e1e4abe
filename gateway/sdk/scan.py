"""Query on scan for adapters (public, part of the SDK): a courier scanned a parcel id at a
locker; the adapter asks the gateway (`AdapterHost.scan_parcel`) and relays the answer.

An OLP locker sends a `ScanParcel` call (schemas/v1/olp-scan-parcel.json); a board adapter
whose kiosk reads labels calls `scan_parcel` itself. After an Accepted answer the gateway opens
the compartment for the deposit through the adapter's `open_compartment`.
"""

from gateway.domain.scan import ScanAnswer, ScanDecision, ScanQuery, ScanRefusal
from gateway.wire.olp_messages import ScanParcelCall, ScanParcelResult
from gateway.wire.olp_scan import ScanParcelPayload, ScanParcelResultPayload

__all__ = [
    "ScanAnswer",
    "ScanDecision",
    "ScanParcelCall",
    "ScanParcelPayload",
    "ScanParcelResult",
    "ScanParcelResultPayload",
    "ScanQuery",
    "ScanRefusal",
    "result_payload",
]


def result_payload(answer: ScanAnswer) -> ScanParcelResultPayload:
    """The ScanParcel result payload that says `answer`."""
    accepted = answer.decision is ScanDecision.ACCEPTED
    return ScanParcelResultPayload(
        parcel_id=answer.parcel_id,
        decision=answer.decision,
        compartment_code=answer.compartment_code,
        unadvised=answer.unadvised if accepted else None,
        reason=answer.reason,
    )
