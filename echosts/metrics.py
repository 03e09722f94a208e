"""Prometheus metrics: an owned registry, counters fed by the core, live gauges read at scrape.

No label ever carries a stream_id, a session or a client's own string: a soak creates
thousands of streams, and every label value here comes from a closed set.
"""

from __future__ import annotations

import platform
from collections import Counter as Tally
from collections.abc import Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from echosts import __version__
from echosts.errors import ErrorCode
from echosts.faults import ACTION_RANK, SEVERITY_RANK
from echosts.fleet import Fleet
from echosts.observe import FAULT_KINDS, FINISH_STATUSES, REFUSAL_REASONS, Observer
from echosts.protocol import WORKER_EVENTS
from echosts.state import State

TIME_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 7.5, 10.0)
"""Seconds: fine at the echo's own millisecond scale, coarse up to the 10 s of slow plans."""
SIZE_BUCKETS = tuple(float(1024 * 4**power) for power in range(9))
"""Bytes: 1 KiB to 64 MiB by factors of four (a 6 s stereo 48 kHz PCM chunk is about 1.1 MiB)."""


class PrometheusObserver(Observer):
    """Counts what the core and the gateway report into one owned registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.connections_accepted = Counter(
            "echosts_connections_accepted",
            "Socket.IO connections accepted.",
            registry=registry,
        )
        self.connections_refused = Counter(
            "echosts_connections_refused",
            "Socket.IO handshakes refused, by reason.",
            ["reason"],
            registry=registry,
        )
        self.events_received = Counter(
            "echosts_events_received",
            "Worker events received, by event name (unknown for names the protocol lacks).",
            ["event"],
            registry=registry,
        )
        self.events_rejected = Counter(
            "echosts_events_rejected",
            "Worker events answered with an error event, by event and error code.",
            ["event", "code"],
            registry=registry,
        )
        self.fragments_received = Counter(
            "echosts_fragments_received",
            "fragment:data events received, accepted or not.",
            registry=registry,
        )
        self.fragments_accepted = Counter(
            "echosts_fragments_accepted",
            "Fragments acknowledged with fragment:ack.",
            registry=registry,
        )
        self.fragments_rejected = Counter(
            "echosts_fragments_rejected",
            "Fragments refused with an error event, by error code.",
            ["code"],
            registry=registry,
        )
        self.fragments_processed = Counter(
            "echosts_fragments_processed",
            "Fragments that left in-flight, by status (dropped: never emitted, by plan).",
            ["status"],
            registry=registry,
        )
        self.processing_time = Histogram(
            "echosts_fragment_processing_seconds",
            "Time from a fragment's arrival until it left in-flight.",
            buckets=TIME_BUCKETS,
            registry=registry,
        )
        self.queue_wait = Histogram(
            "echosts_fragment_queue_wait_seconds",
            "Time a processed fragment waited for earlier ones before it could be emitted.",
            buckets=TIME_BUCKETS,
            registry=registry,
        )
        self.payload_size = Histogram(
            "echosts_fragment_payload_bytes",
            "Decoded audio size of accepted fragments.",
            buckets=SIZE_BUCKETS,
            registry=registry,
        )
        self.backpressure_events = Counter(
            "echosts_backpressure_events",
            "backpressure events emitted, by severity and action.",
            ["severity", "action"],
            registry=registry,
        )
        self.faults = Counter(
            "echosts_simulated_faults",
            "Simulated faults that happened, by kind.",
            ["kind"],
            registry=registry,
        )
        self.streams_started = Counter(
            "echosts_streams_started", "Streams started with stream:ready.", registry=registry
        )
        self.streams_completed = Counter(
            "echosts_streams_completed",
            "Streams finished with stream:complete.",
            registry=registry,
        )
        self._start_every_series_at_zero()

    def _start_every_series_at_zero(self) -> None:
        """Known label values exist from the start, so rate() sees a soak's first events.

        The children counted on every event are kept: ``labels()`` costs a lock and a
        lookup that a fragment need not pay.
        """
        for reason in REFUSAL_REASONS:
            self.connections_refused.labels(reason)
        self._received = {
            event: self.events_received.labels(event) for event in (*WORKER_EVENTS, "unknown")
        }
        self._finished = {
            status: self.fragments_processed.labels(status) for status in FINISH_STATUSES
        }
        for code in ErrorCode:
            self.fragments_rejected.labels(code.value)
        for severity in SEVERITY_RANK:
            for action in ACTION_RANK:
                self.backpressure_events.labels(severity, action)
        for kind in FAULT_KINDS:
            self.faults.labels(kind)

    def connection_accepted(self) -> None:
        self.connections_accepted.inc()

    def connection_refused(self, reason: str) -> None:
        self.connections_refused.labels(reason).inc()

    def event_received(self, event: str) -> None:
        self._received[event].inc()
        if event == "fragment:data":
            self.fragments_received.inc()

    def event_rejected(self, event: str, code: str) -> None:
        self.events_rejected.labels(event, code).inc()
        if event == "fragment:data":
            self.fragments_rejected.labels(code).inc()

    def fragment_accepted(self, payload_bytes: int) -> None:
        self.fragments_accepted.inc()
        self.payload_size.observe(payload_bytes)

    def fragment_finished(self, status: str, processing_s: float, queue_wait_s: float) -> None:
        self._finished[status].inc()
        self.processing_time.observe(processing_s)
        self.queue_wait.observe(queue_wait_s)

    def backpressure_changed(self, severity: str, action: str) -> None:
        self.backpressure_events.labels(severity, action).inc()

    def fault_injected(self, kind: str) -> None:
        self.faults.labels(kind).inc()

    def stream_started(self) -> None:
        self.streams_started.inc()

    def stream_completed(self) -> None:
        self.streams_completed.inc()


class LiveState(Collector):
    """Gauges read from the fleet's real state at scrape time, never kept in step by hand."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet

    def collect(self) -> Iterator[Metric]:
        sessions = self.fleet.sessions()
        states = Tally(session.state.value for session in sessions)
        inflight = sum(len(session.inflight) for session in sessions)
        connections = GaugeMetricFamily("echosts_connections_active", "Open Socket.IO connections.")
        connections.add_metric([], self.fleet.connection_count)
        yield connections
        streams = GaugeMetricFamily(
            "echosts_streams_active",
            "Sessions on open connections, by state.",
            labels=["state"],
        )
        for state in State:
            streams.add_metric([state.value], states[state.value])
        yield streams
        fragments = GaugeMetricFamily(
            "echosts_fragments_inflight", "Fragments accepted and not yet out, over all sessions."
        )
        fragments.add_metric([], inflight)
        yield fragments
        plans = GaugeMetricFamily("echosts_fault_plans", "Fault plans stored.")
        plans.add_metric([], len(self.fleet.plans))
        yield plans
        draining = GaugeMetricFamily(
            "echosts_draining", "1 while the service drains for shutdown, else 0."
        )
        draining.add_metric([], 1 if self.fleet.draining else 0)
        yield draining
        build = GaugeMetricFamily(
            "echosts_build_info",
            "Always 1; the labels say which echosts and Python serve.",
            labels=["version", "python"],
        )
        build.add_metric([__version__, platform.python_version()], 1)
        yield build


class Scrape(Collector):
    """What /metrics shows of a registry: every series but the ``*_created`` ones.

    They double a scrape's size for nothing a soak dashboard uses, and prometheus_client can
    switch them off only for the whole process, every other registry in it included.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        for metric in self.registry.collect():
            kept = Metric(metric.name, metric.documentation, metric.type, metric.unit)
            kept.samples = [s for s in metric.samples if not s.name.endswith("_created")]
            yield kept


def make_registry() -> CollectorRegistry:
    """A registry with the standard process, platform and GC collectors."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry
