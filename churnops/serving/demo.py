"""The serving part of `churnops demo`: champion and challenger 80/20 behind one endpoint, a few
hundred CDNOW requests over HTTP, per-version counts, latency percentiles, and the inference log
checked against the acknowledged requests after a graceful shutdown."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import pyarrow.compute as pc
import pyarrow.parquet as pq

from churnops.data.feature_store.config import OnlineStoreConfig
from churnops.serving.config import EndpointConfig
from churnops.serving.inference_log import read_inference_log
from churnops.serving.loadgen import build_request, run_load
from churnops.serving.server import ServingServer

_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<version>\d+)|@(?P<alias>[\w-]+))$")


def served_entity(name: str, uri: str) -> dict[str, str]:
    """`models:/churn@champion` or `models:/churn/3` as a served entity named `name`."""
    m = _URI.match(uri)
    if m is None:
        raise ValueError(
            f"model uri {uri!r}: expected models:/<name>/<version> or models:/<name>@<alias>"
        )
    entity = {"name": name, "entity_name": m["name"]}
    if m["version"]:
        entity["entity_version"] = m["version"]
    else:
        entity["alias"] = m["alias"]
    return entity


def run_serving_demo(
    workdir: Path,
    champion_uri: str,
    challenger_uri: str,
    online_store_config: OnlineStoreConfig,
    feature_table: str = "churnops.cdnow.customer_features_monthly",
    requests: int = 400,
    tracking_uri: str | None = None,
) -> dict[str, Any]:
    """Serve champion 80 / challenger 20 and send `requests` single-customer CDNOW requests.

    Args:
        workdir: where the endpoint YAML, the CDNOW orders and the inference log go.
        champion_uri: `models:/<name>@<alias>` or `models:/<name>/<version>`.
        challenger_uri: the same for the challenger.
        online_store_config: the online store `feature_table` was published to.
        feature_table: the published feature table the endpoint reads by `customer_id`.
        requests: how many requests to send (each carries only a `customer_id`).
        tracking_uri: the MLflow registry; None: MLflow's default (MLFLOW_TRACKING_URI).

    Returns:
        `counts` (served entity -> requests), `versions` (served entity -> model version),
        `p50_ms`, `p95_ms`, `p99_ms`, `acknowledged`, `log_rows`, `log_matches`, `errors`,
        `endpoint_config`, `inference_log`.
    """
    from churnops.data.sources import SourceConfig, prepare_orders

    workdir = Path(workdir) / "serving"
    workdir.mkdir(parents=True, exist_ok=True)
    cfg = EndpointConfig.model_validate(
        {
            "name": "churn",
            "tracking_uri": tracking_uri,
            "served_entities": [
                served_entity("champion", champion_uri),
                served_entity("challenger", challenger_uri),
            ],
            "traffic_config": {
                "routes": [
                    {"served_model_name": "champion", "traffic_percentage": 80},
                    {"served_model_name": "challenger", "traffic_percentage": 20},
                ]
            },
            "auto_capture_config": {"path": str(workdir / "inference_log")},
            "feature_lookup": {
                "online": online_store_config.model_dump(),
                "table": feature_table,
            },
        }
    )
    log_path = cfg.log_path()
    already = read_inference_log(log_path).num_rows if (log_path / "_delta_log").exists() else 0
    orders = workdir / "orders.parquet"
    prepare_orders(SourceConfig(kind="cdnow"), orders)
    ids = pc.unique(pq.read_table(orders, columns=["customer_id"])["customer_id"]).to_pylist()
    step = max(1, len(ids) // requests)
    customers = ids[::step][:requests]

    with ServingServer(cfg) as server:
        versions = {m.name: m.version for m in server.serving.state.models.values()}
        path = f"/serving-endpoints/{cfg.name}/invocations"
        bodies = [
            build_request(
                "127.0.0.1",
                server.port,
                path,
                orjson.dumps({"dataframe_records": [{"customer_id": c}]}),
                {"X-Request-Id": f"demo-{c}"},
            )
            for c in customers
        ]
        result = run_load("127.0.0.1", server.port, bodies, len(bodies), rate=None, concurrency=2)
    # Stopped gracefully: every acknowledged request is in the log now.
    log = read_inference_log(log_path)
    log_rows = log.num_rows - already
    acknowledged = result.statuses.get(200, 0)
    out = {
        "counts": dict(result.served),
        "versions": versions,
        **{k: result.percentile(q) for k, q in (("p50_ms", 50), ("p95_ms", 95), ("p99_ms", 99))},
        "rps": result.rps,
        "acknowledged": acknowledged,
        "errors": result.errors,
        "log_rows": log_rows,
        "log_matches": log_rows == acknowledged,
        "endpoint_config": cfg,
        "inference_log": log_path,
    }
    total = max(1, sum(result.served.values()))
    for name in ("champion", "challenger"):
        n = result.served.get(name, 0)
        print(f"{name:>10} (v{versions[name]}): {n:4d} requests ({100 * n / total:.1f}%)")
    print(
        f"latency p50 {out['p50_ms']:.2f} ms, p95 {out['p95_ms']:.2f} ms, "
        f"p99 {out['p99_ms']:.2f} ms over {result.sent} requests ({result.rps:.0f} rps, "
        f"{result.errors} errors)"
    )
    print(
        f"inference log {log_path}: {log_rows} rows for {acknowledged} acknowledged requests "
        f"({'match' if out['log_matches'] else 'MISMATCH'})"
    )
    return out
