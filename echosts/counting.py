"""Counters and histograms as plain numbers, fed by the core and the gateway.

No label ever carries a stream_id, a session or a client's own string: a soak creates
thousands of streams, and every label value here comes from a closed set. ``echosts.metrics``
turns these numbers into Prometheus families when ``/metrics`` is scraped; nothing here needs
prometheus_client, so a process starts without loading it.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable

from echosts.errors import ErrorCode
from echosts.faults import ACTION_RANK, SEVERITY_RANK
from echosts.observe import FAULT_KINDS, FINISH_STATUSES, LIMITS, REFUSAL_REASONS, Observer
from echosts.protocol import WORKER_EVENTS

TIME_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 7.5, 10.0)
"""Seconds: fine at the echo's own millisecond scale, coarse up to the 10 s of slow plans."""
SIZE_BUCKETS = tuple(float(1024 * 4**power) for power in range(9))
"""Bytes: 1 KiB to 64 MiB by factors of four (a 6 s stereo 48 kHz PCM chunk is about 1.1 MiB)."""


class CounterFamily:
    """A counter family kept as plain numbers, exported at scrape time.

    Everything that counts runs on the IOLoop, scrapes included, so the lock and the label
    lookup prometheus_client's own counters pay on every increment buy nothing here. Nor do
    these families export ``*_created`` series, which would double a scrape's size for nothing
    a soak dashboard uses.
    """

    __slots__ = ("documentation", "labels", "name", "values")

    def __init__(
        self,
        name: str,
        documentation: str,
        labels: tuple[str, ...] = (),
        series: Iterable[tuple[str, ...]] = ((),),
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.labels = labels
        self.values: dict[tuple[str, ...], float] = dict.fromkeys(series, 0)
        """Every known series starts at zero, so rate() sees a soak's first events."""

    def inc(self, *key: str, amount: float = 1) -> None:
        self.values[key] = self.values.get(key, 0) + amount


class HistogramFamily:
    """A histogram kept as one count per bucket and a sum; cumulated at scrape time."""

    __slots__ = ("bounds", "counts", "documentation", "name", "total")

    def __init__(self, name: str, documentation: str, bounds: tuple[float, ...]) -> None:
        self.name = name
        self.documentation = documentation
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value


class CountingObserver(Observer):
    """Counts what the core and the gateway report, as plain numbers that a scrape exports."""

    def __init__(self) -> None:
        self.connections_accepted = CounterFamily(
            "echosts_connections_accepted", "Socket.IO connections accepted."
        )
        self.connections_refused = CounterFamily(
            "echosts_connections_refused",
            "Socket.IO handshakes refused, by reason.",
            ("reason",),
            [(reason,) for reason in REFUSAL_REASONS],
        )
        self.events_received = CounterFamily(
            "echosts_events_received",
            "Worker events received, by event name (unknown for names the protocol lacks).",
            ("event",),
            [(event,) for event in (*WORKER_EVENTS, "unknown")],
        )
        self.events_rejected = CounterFamily(
            "echosts_events_rejected",
            "Worker events answered with an error event, by event and error code.",
            ("event", "code"),
            (),
        )
        self.fragments_received = CounterFamily(
            "echosts_fragments_received", "fragment:data events received, accepted or not."
        )
        self.fragments_accepted = CounterFamily(
            "echosts_fragments_accepted", "Fragments acknowledged with fragment:ack."
        )
        self.fragments_rejected = CounterFamily(
            "echosts_fragments_rejected",
            "Fragments refused with an error event, by error code.",
            ("code",),
            [(code.value,) for code in ErrorCode],
        )
        self.fragments_processed = CounterFamily(
            "echosts_fragments_processed",
            "Fragments that left in-flight, by status (dropped: never emitted, by plan).",
            ("status",),
            [(status,) for status in FINISH_STATUSES],
        )
        self.processing_time = HistogramFamily(
            "echosts_fragment_processing_seconds",
            "Time from a fragment's arrival until it left in-flight.",
            TIME_BUCKETS,
        )
        self.queue_wait = HistogramFamily(
            "echosts_fragment_queue_wait_seconds",
            "Time a processed fragment waited for earlier ones before it could be emitted.",
            TIME_BUCKETS,
        )
        self.payload_size = HistogramFamily(
            "echosts_fragment_payload_bytes",
            "Decoded audio size of accepted fragments.",
            SIZE_BUCKETS,
        )
        self.backpressure_events = CounterFamily(
            "echosts_backpressure_events",
            "backpressure events emitted, by severity and action.",
            ("severity", "action"),
            [(severity, action) for severity in SEVERITY_RANK for action in ACTION_RANK],
        )
        self.faults = CounterFamily(
            "echosts_simulated_faults",
            "Simulated faults that happened, by kind.",
            ("kind",),
            [(kind,) for kind in FAULT_KINDS],
        )
        self.limit_disconnects = CounterFamily(
            "echosts_limit_disconnects",
            "Connections the server dropped for a limit of section 14, by limit.",
            ("limit",),
            [(limit,) for limit in LIMITS],
        )
        self.streams_started = CounterFamily(
            "echosts_streams_started", "Streams started with stream:ready."
        )
        self.streams_completed = CounterFamily(
            "echosts_streams_completed", "Streams finished with stream:complete."
        )
        self.families: tuple[CounterFamily | HistogramFamily, ...] = (
            self.connections_accepted,
            self.connections_refused,
            self.events_received,
            self.events_rejected,
            self.fragments_received,
            self.fragments_accepted,
            self.fragments_rejected,
            self.fragments_processed,
            self.processing_time,
            self.queue_wait,
            self.payload_size,
            self.backpressure_events,
            self.faults,
            self.limit_disconnects,
            self.streams_started,
            self.streams_completed,
        )

    def connection_accepted(self) -> None:
        self.connections_accepted.inc()

    def connection_refused(self, reason: str) -> None:
        self.connections_refused.inc(reason)

    def event_received(self, event: str) -> None:
        self.events_received.inc(event)
        if event == "fragment:data":
            self.fragments_received.inc()

    def event_rejected(self, event: str, code: str) -> None:
        self.events_rejected.inc(event, code)
        if event == "fragment:data":
            self.fragments_rejected.inc(code)

    def fragment_accepted(self, payload_bytes: int) -> None:
        self.fragments_accepted.inc()
        self.payload_size.observe(payload_bytes)

    def fragment_finished(self, status: str, processing_s: float, queue_wait_s: float) -> None:
        self.fragments_processed.inc(status)
        self.processing_time.observe(processing_s)
        self.queue_wait.observe(queue_wait_s)

    def backpressure_changed(self, severity: str, action: str) -> None:
        self.backpressure_events.inc(severity, action)

    def fault_injected(self, kind: str) -> None:
        self.faults.inc(kind)

    def limit_reached(self, limit: str) -> None:
        self.limit_disconnects.inc(limit)

    def stream_started(self) -> None:
        self.streams_started.inc()

    def stream_completed(self) -> None:
        self.streams_completed.inc()
