"""Counters the gateway's parts already keep, exposed as they are (never counted twice).

The event pipeline counts what became of each locker event (`PipelineCounts`), the lanes
count refusals and handler errors (`LaneStats`), the OLP adapter counts oversized messages and
commands waiting for a reply, and adapters that implement `SupportsDropCounts` count what they
refused or skipped by reason. This collector reads them at scrape time; the figures are this
instance's, since it started.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from gateway.sdk import LaneStats, SupportsDropCounts

# PipelineCounts field -> the outcome label of openlocker_locker_events_total.
EVENT_OUTCOMES = {
    "applied": "applied",
    "duplicates": "duplicate",
    "parked": "parked",
    "unparked": "left_to_journal",
    "presence_skipped": "redundant_presence",
}


class RuntimeCounters(Collector):
    """`pipeline()` gives PipelineCounts as a dict; `adapters()` the running adapters."""

    def __init__(
        self,
        *,
        pipeline: Callable[[], Mapping[str, int]],
        adapters: Callable[[], Mapping[str, Any]],
    ) -> None:
        self._pipeline = pipeline
        self._adapters = adapters

    def collect(self) -> Iterator[Metric]:
        counts = self._pipeline()
        events = CounterMetricFamily(
            "openlocker_locker_events",
            "Locker events taken from this instance's lanes, by what became of them.",
            labels=["outcome"],
        )
        for key, outcome in EVENT_OUTCOMES.items():
            events.add_metric([outcome], counts.get(key, 0))
        yield events
        yield CounterMetricFamily(
            "openlocker_locker_event_retries",
            "Attempts of a locker event repeated after a transient database error.",
            value=counts.get("retries", 0),
        )
        yield CounterMetricFamily(
            "openlocker_journal_reports_skipped",
            "Locker journal reports given up on (the next Heartbeat repeats them).",
            value=counts.get("reports_skipped", 0),
        )
        retried = CounterMetricFamily(
            "openlocker_parked_event_retries",
            "Parked events an operator flagged and this instance retried, by result.",
            labels=["result"],
        )
        retried.add_metric(["applied"], counts.get("parked_applied", 0))
        retried.add_metric(["failed"], counts.get("parked_failed_again", 0))
        yield retried
        yield from self._lanes()
        yield self._drops()

    def _drops(self) -> Metric:
        dropped = CounterMetricFamily(
            "openlocker_adapter_dropped",
            "What an adapter refused or skipped of what its lockers or boards sent, by reason"
            " (OLP: MQTT messages, too-large included; serial boards: replies, or bytes for"
            " reason noise-bytes).",
            labels=["adapter", "reason"],
        )
        for name, adapter in sorted(self._adapters().items()):
            if isinstance(adapter, SupportsDropCounts):
                for reason, count in sorted(adapter.drop_counts().items()):
                    dropped.add_metric([name, reason], count)
        return dropped

    def _lanes(self) -> Iterator[Metric]:
        refused = CounterMetricFamily(
            "openlocker_lane_refusals",
            "Locker messages refused because their locker's lane was full (overload).",
            labels=["adapter"],
        )
        episodes = CounterMetricFamily(
            "openlocker_lane_overload_episodes",
            "Overload episodes of lockers' lanes: from a locker's first refused message until "
            "its lane worked off what it held (refused journaled events caught up by replay).",
            labels=["adapter"],
        )
        overloaded = GaugeMetricFamily(
            "openlocker_lane_overloaded_lockers",
            "Lockers in an overload episode now (their lane refused messages and has not "
            "drained yet).",
            labels=["adapter"],
        )
        errors = CounterMetricFamily(
            "openlocker_lane_handler_errors",
            "Lane items whose handler raised.",
            labels=["adapter"],
        )
        queued = GaugeMetricFamily(
            "openlocker_lane_queued_items", "Items waiting in lockers' lanes.", labels=["adapter"]
        )
        busy = GaugeMetricFamily(
            "openlocker_lane_busy_lockers",
            "Lockers with work queued or in hand (one task each).",
            labels=["adapter"],
        )
        too_large = CounterMetricFamily(
            "openlocker_mqtt_messages_too_large",
            "Locker messages refused for exceeding OLP's size limit.",
        )
        waiting = GaugeMetricFamily(
            "openlocker_mqtt_commands_waiting", "Commands to lockers waiting for their reply."
        )
        big = pending = 0
        for name, adapter in sorted(self._adapters().items()):
            stats = _stats(adapter)
            if stats is None:
                continue
            lanes = stats if isinstance(stats, LaneStats) else getattr(stats, "lanes", None)
            if isinstance(lanes, LaneStats):
                refused.add_metric([name], lanes.refused)
                episodes.add_metric([name], lanes.overloads)
                overloaded.add_metric([name], lanes.overloaded)
                errors.add_metric([name], lanes.handler_errors)
                queued.add_metric([name], lanes.queued)
                busy.add_metric([name], lanes.lanes)
            big += int(getattr(stats, "too_large", 0))
            pending += int(getattr(stats, "calls_waiting", 0))
        too_large.add_metric([], big)
        waiting.add_metric([], pending)
        yield from (refused, episodes, overloaded, errors, queued, busy, too_large, waiting)


def _stats(adapter: Any) -> Any:
    stats = getattr(adapter, "stats", None)
    return stats() if callable(stats) else None
