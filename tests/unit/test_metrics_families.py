"""Counter and histogram families kept as plain numbers export what prometheus_client would."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.registry import Collector

from echosts.counting import TIME_BUCKETS, CounterFamily, HistogramFamily
from echosts.metrics import exported

VALUES = [0.0, 0.001, 0.0011, 0.025, 0.3, 7.5, 10.0, 12.0, 0.004]


class Export(Collector):
    def __init__(self, *families: CounterFamily | HistogramFamily) -> None:
        self.families = families

    def collect(self):  # type: ignore[no-untyped-def]
        return [exported(family) for family in self.families]


def samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for metric in registry.collect()
        for sample in metric.samples
        if not sample.name.endswith("_created")
    }


def test_a_histogram_family_exports_the_samples_of_a_prometheus_histogram() -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    family = HistogramFamily("t_seconds", "t", TIME_BUCKETS)
    reference = Histogram("t_seconds", "t", buckets=TIME_BUCKETS, registry=theirs)
    for value in VALUES:
        family.observe(value)
        reference.observe(value)
    ours.register(Export(family))
    assert samples(ours) == samples(theirs)


def test_a_counter_family_exports_the_samples_of_a_prometheus_counter() -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    family = CounterFamily("c", "c", ("kind",), [("a",), ("b",)])
    reference = Counter("c", "c", ["kind"], registry=theirs)
    reference.labels("a")
    reference.labels("b")
    for kind in ("a", "a", "z"):
        family.inc(kind)
        reference.labels(kind).inc()
    ours.register(Export(family))
    assert samples(ours) == samples(theirs)
