"""The `epcis` connector: OLP events as GS1 EPCIS 2.0 JSON-LD ObjectEvents with CBV terms."""

from connectors.epcis.config import ActionMode, EpcisConfig
from connectors.epcis.connector import EPCIS_CONTEXT, OLP_NAMESPACE, EpcisConnector

__all__ = ["EPCIS_CONTEXT", "OLP_NAMESPACE", "ActionMode", "EpcisConfig", "EpcisConnector"]
