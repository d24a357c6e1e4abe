"""The instruments of one gateway instance, in a registry of its own.

Names follow Prometheus' conventions (https://prometheus.io/docs/practices/naming/): the
`openlocker_` prefix, base units as a plural suffix (`_seconds`), `_total` on counters, and
labels only of bounded sets (route templates, never raw paths; OLP actions, never ids).
A registry per `Gateway`, not the process-wide default, so that several gateways in one
process (tests, the scale-out bench) each count their own.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Request and message handling: from a sub-millisecond answer to a locker's 10 s open timeout.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Event-loop lag: anything above a few ms is worth seeing; seconds mean the loop was blocked.
LAG_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """Every instrument the gateway's code updates; `registry` is what /metrics serves."""

    def __init__(self, *, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http_duration = Histogram(
            "openlocker_http_request_duration_seconds",
            "HTTP requests served by this instance, by route template, method and status class.",
            ["route", "method", "status_class"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.mqtt_duration = Histogram(
            "openlocker_mqtt_message_duration_seconds",
            "Locker messages received over MQTT by this instance, from decoding to handled "
            "(answered, or applied to the database), by OLP kind and action.",
            ["kind", "action"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.command_duration = Histogram(
            "openlocker_mqtt_command_duration_seconds",
            "Commands this instance sent to lockers over MQTT, from publishing to the locker's "
            "reply (or to giving up), by OLP action and outcome (result, error, timeout).",
            ["action", "outcome"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.delivery_attempts = Counter(
            "openlocker_delivery_attempts_total",
            "Outbox delivery attempts settled by this instance, by target kind and result "
            "(delivered, retry, dead, gone, skipped, released).",
            ["target_kind", "result"],
            registry=r,
        )
        self.delivery_db_unavailable = Counter(
            "openlocker_delivery_database_unavailable_total",
            "Times this instance's delivery engine found the database unavailable (an outage, "
            "a busy SQLite file, an exhausted pool), by step (claim, route, settle, purge); "
            "the rows concerned are retried once it answers again.",
            ["step"],
            registry=r,
        )
        self.keypad_entries = Counter(
            "openlocker_keypad_entries_total",
            "Codes typed at locker keypads and decided by this instance, by verdict; every "
            "verdict but `accepted` is a keypad failure.",
            ["verdict"],
            registry=r,
        )
        self.keypad_lockouts = Counter(
            "openlocker_keypad_lockouts_total",
            "Keypad lockouts started by this instance (too many wrong codes).",
            registry=r,
        )
        self.loop_lag = Histogram(
            "openlocker_event_loop_lag_seconds",
            "How late this instance's event loop ran a timer (a blocked or saturated loop).",
            buckets=LAG_BUCKETS,
            registry=r,
        )
        self.up = Gauge(
            "openlocker_database_figures_up",
            "1 when the last scrape read the network-wide figures from the database, else 0.",
            registry=r,
        )

    def http_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.http_duration.labels(route, method, f"{status // 100}xx").observe(seconds)

    def mqtt_message(self, kind: str, action: str, seconds: float) -> None:
        self.mqtt_duration.labels(kind, action).observe(seconds)

    def mqtt_command(self, action: str, outcome: str, seconds: float) -> None:
        self.command_duration.labels(action, outcome).observe(seconds)

    def delivery(self, target_kind: str, result: str) -> None:
        self.delivery_attempts.labels(target_kind, result).inc()

    def delivery_database_unavailable(self, step: str) -> None:
        self.delivery_db_unavailable.labels(step).inc()

    def keypad(self, verdict: str, *, lockout: bool) -> None:
        self.keypad_entries.labels(verdict).inc()
        if lockout:
            self.keypad_lockouts.inc()
