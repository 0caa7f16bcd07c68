"""`ServingMetrics`: Prometheus counters and a latency histogram per served model, and the
inference log's failures and backlog."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

# Sub-millisecond buckets: the target p50 is 2 ms.
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class ServingMetrics:
    """The endpoint's metrics in their own registry (one per app, so tests do not collide)."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._children: dict[tuple[str, str, str, int], tuple] = {}
        labels = ["endpoint", "served_model", "model_version"]
        self.requests = Counter(
            "churnops_serving_requests",
            "Invocation requests answered, by status code",
            [*labels, "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "churnops_serving_request_latency_seconds",
            "Time from request body read to response built",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "churnops_serving_errors",
            "Requests or rows that failed, by kind (bad_request, unknown_key, model, shadow, "
            "server, inference_log)",
            [*labels, "kind"],
            registry=self.registry,
        )
        self.rows = Counter("churnops_serving_rows", "Rows scored", labels, registry=self.registry)

    def observe(
        self, endpoint: str, served: str, version: str, status: int, seconds: float, rows: int
    ) -> None:
        key = (endpoint, served, version, status)
        children = self._children.get(key)
        if children is None:  # label lookups cost more than the updates: do them once per key
            children = (
                self.requests.labels(endpoint, served, version, str(status)),
                self.latency.labels(endpoint, served, version),
                self.rows.labels(endpoint, served, version),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)
        if rows:
            children[2].inc(rows)

    def error(self, endpoint: str, served: str, version: str, kind: str, n: int = 1) -> None:
        self.errors.labels(endpoint, served, version, kind).inc(n)

    def watch_inference_log(
        self, endpoint: str, stats: Callable[[], dict[str, int] | None]
    ) -> None:
        """Report the inference log's `stats()` (None: no log) at each scrape."""
        self.registry.register(_InferenceLogCollector(endpoint, stats))

    def render(self) -> bytes:
        return generate_latest(self.registry)


# name, kind, help: from `InferenceLogWriter.stats()`, by key
_LOG_METRICS = {
    "rows_committed": ("counter", "Inference log rows committed to Delta"),
    "commit_failures": ("counter", "Inference log commits that failed (the rows stay journalled)"),
    "journal_failures": (
        "counter",
        "Inference log journal writes or segment closes that failed (a failed write: 503)",
    ),
    "committer_restarts": ("counter", "Inference log committer processes that died"),
    "pending_rows": ("gauge", "Inference log rows journalled and not yet committed"),
    "pending_segments": ("gauge", "Closed inference log journal segments not yet committed"),
}


class _InferenceLogCollector:
    """The log's counters, read at scrape time (a reload may replace or remove the log)."""

    def __init__(self, endpoint: str, stats: Callable[[], dict[str, int] | None]):
        self.endpoint = endpoint
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        stats = self.stats()
        if stats is None:
            return
        for key, (kind, doc) in _LOG_METRICS.items():
            family: Any = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
            metric = family(f"churnops_inference_log_{key}", doc, labels=["endpoint"])
            metric.add_metric([self.endpoint], stats[key])
            yield metric
