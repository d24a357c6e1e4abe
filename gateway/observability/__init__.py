"""Telemetry of one gateway: Prometheus metrics, structured logs with correlation ids, probes."""
