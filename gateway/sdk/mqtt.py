"""MQTT building blocks for adapters of MQTT-speaking lockers (public, part of the SDK)."""

from gateway.mqtt import topics
from gateway.mqtt.connection import BrokerAddress, ConnectionOptions, MqttConnection
from gateway.mqtt.dedupe import Deduper, SequenceTracker
from gateway.mqtt.rpc import PendingCalls
from gateway.mqtt.tls import TlsFiles, client_context

__all__ = [
    "BrokerAddress",
    "ConnectionOptions",
    "Deduper",
    "MqttConnection",
    "PendingCalls",
    "SequenceTracker",
    "TlsFiles",
    "client_context",
    "topics",
]
