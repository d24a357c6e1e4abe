"""The `olp-scan-query` connector: query on scan asked of a carrier in OLP's own JSON."""

from connectors.olp_scan_query.connector import OlpScanQueryConfig, OlpScanQueryConnector

__all__ = ["OlpScanQueryConfig", "OlpScanQueryConnector"]
