"""`serving_check`: serve the deployed endpoint over HTTP, send requests, and check that the
inference log holds exactly the acknowledged requests after a graceful shutdown."""

from __future__ import annotations

from pydantic import Field

from churnops.config import StrictConfig
from churnops.pipelines.tasks.base import RunInputs


class ServingCheckFailed(RuntimeError):
    """Requests failed, or the inference log does not match the acknowledged requests."""


class ServingCheckInputs(RunInputs):
    endpoint_config: str  # from model_deployment
    orders_path: str  # the customers to ask about (each request carries only a customer_id)
    requests: int = Field(default=400, ge=1)
    concurrency: int = Field(default=2, ge=1)


class ServingCheckOutputs(StrictConfig):
    counts: dict[str, int]  # served entity -> requests it answered
    versions: dict[str, str]  # served entity -> model version
    p50_ms: float
    p95_ms: float
    p99_ms: float
    rps: float
    acknowledged: int
    errors: int
    log_rows: int
    inference_log: str


def serving_check(inputs: ServingCheckInputs) -> ServingCheckOutputs:
    """Start the endpoint, send `requests` key-only requests, stop it, compare the log.

    Raises:
        ServingCheckFailed: a request failed or the log and the acknowledgements differ.
    """
    import orjson
    import pyarrow.compute as pc

    from churnops.data.delta_tables import table_exists
    from churnops.data.storage import read_parquet
    from churnops.serving.config import load_endpoint_config
    from churnops.serving.inference_log import read_inference_log
    from churnops.serving.loadgen import build_request, run_load
    from churnops.serving.server import ServingServer

    inputs.use_tracking()
    cfg = load_endpoint_config(inputs.endpoint_config, ["server.port=0"])
    log_path = cfg.log_path()
    already = read_inference_log(log_path).num_rows if table_exists(log_path) else 0
    table = read_parquet(inputs.orders_path, columns=["customer_id"])
    ids = pc.unique(table["customer_id"]).to_pylist()
    customers = ids[:: max(1, len(ids) // inputs.requests)][: inputs.requests]
    with ServingServer(cfg) as server:
        versions = {m.name: str(m.version) for m in server.serving.state.models.values()}
        path = f"/serving-endpoints/{cfg.name}/invocations"
        bodies = [
            build_request(
                "127.0.0.1", server.port, path,
                orjson.dumps({"dataframe_records": [{"customer_id": c}]}),
                {"X-Request-Id": f"check-{c}"},
            )
            for c in customers
        ]  # fmt: skip
        result = run_load("127.0.0.1", server.port, bodies, len(bodies), rate=None,
                          concurrency=inputs.concurrency)  # fmt: skip
    # Stopped gracefully: every acknowledged request must be in the log now.
    log_rows = read_inference_log(log_path).num_rows - already
    acknowledged = result.statuses.get(200, 0)
    out = ServingCheckOutputs(
        counts=dict(result.served),
        versions=versions,
        p50_ms=result.percentile(50),
        p95_ms=result.percentile(95),
        p99_ms=result.percentile(99),
        rps=result.rps,
        acknowledged=acknowledged,
        errors=result.errors,
        log_rows=log_rows,
        inference_log=str(log_path),
    )
    if result.errors or acknowledged != len(bodies) or log_rows != acknowledged:
        raise ServingCheckFailed(
            f"serving check: {acknowledged} of {len(bodies)} requests acknowledged, "
            f"{result.errors} errors, {log_rows} inference log rows (expected {acknowledged}); "
            f"statuses {dict(result.statuses)}"
        )
    return out
