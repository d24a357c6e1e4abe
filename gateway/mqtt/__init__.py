"""OLP over MQTT: topics, envelopes, dedupe, request/response and a self-healing connection."""
