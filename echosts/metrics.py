"""Prometheus exposition: an owned registry that exports the counted numbers and live gauges.

Loaded on the first scrape, not at start: prometheus_client is not needed before then.
"""

from __future__ import annotations

import math
import platform
from collections import Counter as Tally
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from echosts import __version__
from echosts.counting import CounterFamily, CountingObserver, HistogramFamily
from echosts.fleet import Fleet
from echosts.state import State


def exported(family: CounterFamily | HistogramFamily) -> Metric:
    """The Prometheus family for ``family``'s numbers as they are now."""
    if isinstance(family, CounterFamily):
        counter = CounterMetricFamily(family.name, family.documentation, labels=list(family.labels))
        for key, value in family.values.items():
            counter.add_metric(list(key), value)
        return counter
    buckets = []
    cumulative = 0
    for bound, count in zip((*family.bounds, math.inf), family.counts, strict=True):
        cumulative += count
        buckets.append((floatToGoString(bound), cumulative))
    return HistogramMetricFamily(
        family.name, family.documentation, buckets=buckets, sum_value=family.total
    )


class Counted(Collector):
    """The observer's families, exported at scrape time."""

    def __init__(self, observer: CountingObserver) -> None:
        self.observer = observer

    def collect(self) -> Iterator[Metric]:
        for family in self.observer.families:
            yield exported(family)


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


def make_registry(observer: CountingObserver, fleet: Fleet) -> CollectorRegistry:
    """A registry with the counted numbers, the live gauges and the standard process, platform
    and GC collectors."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    registry.register(Counted(observer))
    registry.register(LiveState(fleet))
    return registry


def render(registry: CollectorRegistry, accept: str) -> tuple[bytes, str]:
    """``registry`` in the format ``accept`` asks for (OpenMetrics or the text format)."""
    encoder, content_type = choose_encoder(accept)
    return encoder(registry), content_type
