"""The CDNOW replay: every customer scored at each month end by the served versions, written as
a serving inference log (and a labels table where the churn horizon has passed).

The cohort ages month by month, so the drift the monitor sees is real, not injected. Requests are
routed by the server's sticky hash, so the split and the SRM test behave as they would live.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
from pydantic import Field, model_validator

from churnops.config import StrictConfig
from churnops.data.engines.config import EngineConfig
from churnops.data.sources.config import SourceConfig
from churnops.monitoring.refresh.unpack import BASE_FIELDS
from churnops.serving.inference_log import SCHEMA
from churnops.serving.routing import TrafficRouter

_NAMESPACE = uuid.UUID("6f1d3c52-8a53-4e0b-9a53-63686f726e6f")  # stable request ids per replay


class ReplayArm(StrictConfig):
    """One served entity of the replayed endpoint.

    Attributes:
        name: the served entity name (`champion`, `challenger`).
        model_uri: an MLflow model URI (`models:/churn@champion`, `runs:/...`, a path).
        traffic_percentage: its share of live traffic (0 for a shadow-only arm).
        model_name, model_version: what the log records; read from a `models:/` URI when unset.
    """

    name: str
    model_uri: str
    traffic_percentage: int = Field(ge=0, le=100)
    model_name: str | None = None
    model_version: str | None = None


class ReplayConfig(StrictConfig):
    """Where the orders come from, when to score, with what, and where to write.

    Attributes:
        source: the orders source (bundled CDNOW by default).
        start, end: the first and last month end scored.
        arms: the served entities; live percentages sum to 100.
        shadow: an arm that also scores a copy of every request routed elsewhere, or None.
        horizon_days: the churn horizon of the labels.
        endpoint_name: the endpoint the log names.
        rows_per_request: customers per logged request (each request holds one arm's customers).
        engine: the DataFrame engine computing features and labels.
        inference_log: the Delta table to write the log to (overwritten).
        labels: the Delta table to write the labels to (overwritten).
        predictions: also write the unpacked predictions table here, or None.
        tracking_uri: MLflow tracking and registry URI for `models:/` URIs, or None.
        mode: `overwrite` writes the tables anew; `append` adds this run's months to them (a
            month-by-month replay), with the labels that landed by `end` and are not yet there.
        labels_from: the first month end labelled (None: `start`); an appending replay passes
            its first month, so each month's call lands the labels of the earlier ones.
    """

    source: SourceConfig = Field(default_factory=SourceConfig)
    start: dt.date = dt.date(1997, 6, 30)
    end: dt.date = dt.date(1998, 6, 30)
    arms: list[ReplayArm]
    shadow: str | None = None
    horizon_days: int = Field(180, gt=0)
    endpoint_name: str = "churn-prediction-endpoint"
    rows_per_request: int = Field(100, gt=0)
    engine: EngineConfig = Field(default_factory=EngineConfig)  # `engine=spark` is shorthand
    inference_log: str
    labels: str
    predictions: str | None = None
    tracking_uri: str | None = None
    mode: Literal["overwrite", "append"] = "overwrite"
    labels_from: dt.date | None = None

    @model_validator(mode="after")
    def _check(self) -> ReplayConfig:
        if self.end < self.start:
            raise ValueError(f"end={self.end}: expected a date on or after start={self.start}")
        names = [a.name for a in self.arms]
        if len(set(names)) != len(names) or not names:
            raise ValueError(f"arms: expected distinct served entity names, got {names}")
        total = sum(a.traffic_percentage for a in self.arms)
        if total != 100:
            raise ValueError(f"arms: traffic percentages sum to {total}, expected 100")
        if self.shadow is not None and self.shadow not in names:
            raise ValueError(f"shadow={self.shadow!r}: expected one of the arms {names}")
        return self


@dataclass
class ReplayResult:
    """What the replay wrote.

    Attributes:
        cutoffs: the month ends scored.
        labelled_cutoffs: the month ends whose labels this run wrote (horizon passed; in
            `append` mode, only those not written before).
        log_rows: inference log rows (requests, shadow copies included).
        prediction_rows: scored customer rows (shadow included).
        predictions_path: the predictions Delta table (None when not asked for).
        labels_path: the labels Delta table.
    """

    cutoffs: list[dt.date]
    labelled_cutoffs: list[dt.date]
    log_rows: int
    prediction_rows: int
    predictions_path: str | None
    labels_path: str

    @property
    def predictions(self) -> pa.Table:
        """The predictions table (one row per scored customer), read from its Delta table."""
        if self.predictions_path is None:
            raise ValueError("predictions: the replay was not asked to write them (predictions=)")
        return _read_delta(self.predictions_path)

    @property
    def labels(self) -> pa.Table:
        """The labels table (`customer_id`, `cutoff`, `churn`), read from its Delta table."""
        return _read_delta(self.labels_path)


def _read_delta(path: str) -> pa.Table:
    from churnops.data.delta_tables import open_table, read_table

    return read_table(open_table(path))


# Customers scored per model call: the month is streamed from the engine in batches this size.
BATCH_ROWS = 65_536


def replay(cfg: ReplayConfig, models: dict[str, Any] | None = None) -> ReplayResult:
    """Score every customer at each month end from `cfg.start` to `cfg.end` and write the log.

    Each month's snapshot streams from the engine in customer order, batch by batch; the log,
    predictions and labels go to Parquet under a temporary folder as they are made, and become
    the Delta tables (one commit each) once every month is scored, so memory holds a batch and
    a failure leaves no half-written table.

    Args:
        cfg: the replay config.
        models: loaded pyfunc models by arm name, used instead of loading `model_uri`.
    """
    import pyarrow.parquet as pq

    from churnops.data.delta_tables import table_exists
    from churnops.data.engines import engine_for
    from churnops.data.feature_store.timeseries import month_ends, order_span
    from churnops.data.features.customer import compute_customer_features
    from churnops.data.sources import prepare_orders

    if cfg.tracking_uri:
        import mlflow

        mlflow.set_tracking_uri(cfg.tracking_uri)
        mlflow.set_registry_uri(cfg.tracking_uri)
    served = {a.name: _served_model(a, (models or {}).get(a.name)) for a in cfg.arms}
    router = TrafficRouter([(a.name, a.traffic_percentage) for a in cfg.arms], "sticky")
    cutoffs = month_ends(cfg.start, cfg.end)
    if not cutoffs:
        raise ValueError(f"start={cfg.start}, end={cfg.end}: no month end between them")
    log_rows = prediction_rows = 0
    with tempfile.TemporaryDirectory() as tmp, engine_for(cfg.engine) as engine:
        log_path, preds_path = Path(tmp, "log.parquet"), Path(tmp, "predictions.parquet")
        log_writer = pq.ParquetWriter(log_path, SCHEMA)
        preds_writer: Any = None
        try:
            orders_path = Path(tmp, "orders.parquet")
            prepare_orders(cfg.source, orders_path)
            orders = engine.read_parquet(orders_path)
            labelled = _landed_labels(cfg, order_span(orders)[1])
            for cutoff in cutoffs:
                month = _month_batches(engine, compute_customer_features(orders, cutoff))
                for log, preds in _score_stream(cfg, served, router, cutoff, month):
                    log_writer.write_table(pa.Table.from_pylist(log, schema=SCHEMA))
                    if preds_writer is None:
                        preds_writer = pq.ParquetWriter(preds_path, _predictions_schema(served))
                    preds_writer.write_table(_conform(preds, preds_writer.schema))
                    log_rows += len(log)
                    prediction_rows += preds.num_rows
            labels_path = Path(tmp, "labels.parquet")
            _write_labels(engine, orders, labelled, cfg.horizon_days, labels_path)
        finally:
            log_writer.close()
            if preds_writer is not None:
                preds_writer.close()
        # Written only once everything is computed: a failure leaves no half-written table.
        _write_delta(log_path, cfg.inference_log, cfg.mode)
        # An append with no label landed adds nothing, but the table exists from the first
        # month on: a monitor reading it finds it empty rather than missing.
        if labelled or cfg.mode == "overwrite" or not table_exists(cfg.labels):
            _write_delta(labels_path, cfg.labels, cfg.mode)
        if cfg.predictions and preds_writer is not None:
            _write_delta(preds_path, cfg.predictions, cfg.mode)
    return ReplayResult(cutoffs, labelled, log_rows, prediction_rows, cfg.predictions, cfg.labels)


def _landed_labels(cfg: ReplayConfig, last_order: dt.date) -> list[dt.date]:
    """The month ends whose labels this run writes: from `labels_from` (or `start`) to `end`,
    horizon passed by the last order (`overwrite`) or by `end` (`append`: the replay's "now"),
    less those an appending run finds already written."""
    from churnops.data.feature_store.timeseries import month_ends

    horizon = dt.timedelta(cfg.horizon_days)
    first = cfg.labels_from or cfg.start
    if first > cfg.end:
        raise ValueError(f"labels_from={first}: expected a date on or before end={cfg.end}")
    landed_by = last_order if cfg.mode == "overwrite" else min(cfg.end, last_order)
    written: set[dt.date] = set()
    if cfg.mode == "append":
        from churnops.data.delta_tables import table_exists

        if table_exists(cfg.labels):
            written = set(_read_delta(cfg.labels).column("cutoff").unique().to_pylist())
    return [c for c in month_ends(first, cfg.end) if c + horizon <= landed_by and c not in written]


def _month_batches(engine: Any, frame: Any) -> Any:
    """A month's snapshot as pandas batches in customer order, streamed where the engine can."""
    if engine.name == "duckdb":
        from churnops.data.engines.duckdb import record_batches

        batches: Any = record_batches(frame, BATCH_ROWS, order_by=["customer_id"])
    else:
        batches = engine.to_arrow(frame.orderBy("customer_id")).to_batches(BATCH_ROWS)
    for batch in batches:
        if batch.num_rows:
            yield batch.to_pandas()


def _score_stream(
    cfg: ReplayConfig, served: dict[str, _Served], router: TrafficRouter, cutoff: dt.date,
    month: Any,
) -> Any:  # fmt: skip
    """(log rows, predictions) per scored chunk of one month, batch by batch.

    Each arm's rows are scored in whole requests of `rows_per_request` (a short one only at the
    month's end), so requests and their ids are the same however the month is batched.
    """
    pending: dict[str, pd.DataFrame] = {}
    offset = dict.fromkeys(served, 0)  # rows of each arm already scored this month

    def score(arm: str, rows: pd.DataFrame) -> Any:
        rows = rows.reset_index(drop=True)
        yield _score_month(cfg, served[arm], arm, rows, cutoff, False, offset[arm])
        if cfg.shadow and cfg.shadow != arm and len(rows):
            yield _score_month(cfg, served[cfg.shadow], cfg.shadow, rows, cutoff, True,
                               offset[arm])  # fmt: skip
        offset[arm] += len(rows)

    for batch in month:
        arm_of = np.array(router.choose_many(batch["customer_id"].tolist()))
        for arm in served:
            rows = batch[arm_of == arm]
            if arm in pending:
                rows = pd.concat([pending.pop(arm), rows], ignore_index=True)
            whole = len(rows) - len(rows) % cfg.rows_per_request
            if len(rows) > whole:
                pending[arm] = rows.iloc[whole:]
            if whole:
                yield from score(arm, rows.iloc[:whole])
    for arm in served:
        if arm in pending or offset[arm] == 0:
            # The month's last, short request; an arm with no customers still logs its
            # (empty) predictions, as a month with none scored did before.
            yield from score(arm, pending.pop(arm, _empty_like(served[arm])))


def _empty_like(served: _Served) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="float64") for c in served.columns})


def _predictions_schema(served: dict[str, _Served]) -> pa.Schema:
    """The predictions table's columns: its own, then every arm's inputs (arms may differ)."""
    fields = list(BASE_FIELDS)
    for entity in served.values():
        fields += [(c, pa.float64()) for c in entity.columns[1:] if c not in dict(fields)]
    return pa.schema(fields)


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """`table` in `schema`'s columns: another arm's inputs as nulls."""
    columns = [
        table[f.name] if f.name in table.column_names else pa.nulls(table.num_rows, f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def _write_delta(path: Path, target: str, mode: str) -> None:
    """The Parquet file at `path` (written in row groups of one scored chunk each) as the
    Delta table `target` in one commit, the file moved in as it is: delta-rs's own write
    gathered a 10M-customer log (6 GB) in memory and overflowed Arrow's string offsets."""
    import pyarrow.parquet as pq

    from churnops.data.delta_tables import commit_parquet_file

    commit_parquet_file(target, path, mode, pq.ParquetFile(path).schema_arrow)


@dataclass
class _Served:
    model: Any
    model_name: str
    model_version: str
    columns: list[str]  # the request's columns: the key and the model's inputs
    inputs: list[str]  # the model's input columns (its signature's)


def _served_model(arm: ReplayArm, loaded: Any) -> _Served:
    import mlflow.pyfunc

    from churnops.data.features import FEATURE_COLUMNS

    model = loaded if loaded is not None else mlflow.pyfunc.load_model(arm.model_uri)
    name, version = arm.model_name, arm.model_version
    if (name is None or version is None) and arm.model_uri.startswith("models:/"):
        resolved_name, resolved_version = _registered_version(arm.model_uri)
        name, version = name or resolved_name, version or resolved_version
    schema = model.metadata.get_input_schema() if hasattr(model, "metadata") else None
    inputs = [s.name for s in schema.inputs] if schema is not None else list(FEATURE_COLUMNS)
    columns = ["customer_id", *[c for c in inputs if c != "customer_id"]]
    return _Served(model, name or arm.name, version or "", columns, inputs)


def _registered_version(model_uri: str) -> tuple[str, str]:
    """(name, version) of `models:/name/3` or `models:/name@alias`."""
    from mlflow import MlflowClient

    ref = model_uri.removeprefix("models:/")
    if "@" in ref:
        name, alias = ref.split("@", 1)
        return name, str(MlflowClient().get_model_version_by_alias(name, alias).version)
    name, _, version = ref.partition("/")
    return name, version


def _score_month(
    cfg: ReplayConfig,
    served: _Served,
    arm: str,
    rows: pd.DataFrame,
    cutoff: dt.date,
    shadow: bool,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], pa.Table]:
    """Score a run of one arm's customers of one month end (the arm's rows from `offset` on):
    log rows and predictions rows."""
    from churnops.models.pyfunc import predict_function

    missing = [c for c in served.columns if c not in rows.columns]
    if missing:
        raise ValueError(f"arm {arm!r}: the model reads column(s) {missing} that the features lack")
    frame = rows[served.columns].reset_index(drop=True)
    start = time.perf_counter()
    # The request carries the key too, as a client's does; the model reads only its inputs.
    out = (
        predict_function(served.model)(frame[served.inputs])
        if len(frame)
        else pd.DataFrame({"probability": [], "prediction": []})
    )
    per_row_ms = (time.perf_counter() - start) * 1000 / max(len(frame), 1)
    prob = np.asarray(out["probability"], dtype=np.float64)
    pred = np.asarray(out["prediction"], dtype=np.int64)
    # The prediction is made once the month end's orders are in: at the end of that day.
    stamp = dt.datetime.combine(cutoff, dt.time(23, 59, 59), dt.UTC)
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    log_rows: list[dict[str, Any]] = []
    request_ids: list[str] = []
    for first in range(0, len(frame), cfg.rows_per_request):
        chunk = slice(first, first + cfg.rows_per_request)
        n = len(records[chunk])
        request_id = uuid.uuid5(_NAMESPACE, f"{cutoff}/{arm}/{shadow}/{offset + first}").hex
        request_ids += [request_id] * n
        body = {
            "predictions": [
                {"probability": p, "prediction": d}
                for p, d in zip(prob[chunk].tolist(), pred[chunk].tolist(), strict=True)
            ],
            "served_entity": arm,
            "model_name": served.model_name,
            "model_version": served.model_version,
        }
        log_rows.append(
            {
                "databricks_request_id": request_id,
                "client_request_id": None,
                "date": cutoff,
                "timestamp_ms": int(stamp.timestamp() * 1000),
                "status_code": 200,
                "execution_time_ms": per_row_ms * n,
                "request": orjson.dumps(records[chunk]).decode(),
                "response": orjson.dumps(body).decode(),
                "sampling_fraction": 1.0,
                "request_metadata": [
                    ("endpoint_name", cfg.endpoint_name),
                    ("model_name", served.model_name),
                    ("model_version", served.model_version),
                    ("served_entity_name", arm),
                ],
                "endpoint_name": cfg.endpoint_name,
                "served_entity_name": arm,
                "model_name": served.model_name,
                "model_version": served.model_version,
                "num_rows": n,
                "is_shadow": shadow,
            }
        )
    n = len(frame)
    columns: dict[str, Any] = {
        "request_id": request_ids,
        "timestamp": [stamp] * n,
        "date": [cutoff] * n,
        "endpoint_name": [cfg.endpoint_name] * n,
        "served_entity_name": [arm] * n,
        "model_name": [served.model_name] * n,
        "model_version": [served.model_version] * n,
        "is_shadow": [shadow] * n,
        "customer_id": frame["customer_id"].astype(str).tolist(),
        "probability": prob,
        "prediction": pred,
    }
    fields = list(BASE_FIELDS)  # the predictions table's own columns, as unpacking writes them
    for col in served.columns[1:]:
        columns[col] = pd.to_numeric(frame[col]).astype(np.float64).to_numpy()
        fields.append((col, pa.float64()))
    return log_rows, pa.table(columns, schema=pa.schema(fields))


LABELS_SCHEMA = pa.schema(
    [("customer_id", pa.string()), ("cutoff", pa.date32()), ("churn", pa.int64())]
)


def _write_labels(
    engine: Any, orders: Any, cutoffs: list[dt.date], horizon_days: int, path: Path
) -> None:
    """The labels table (`customer_id`, `cutoff`, `churn`) at every cutoff whose horizon has
    passed, to Parquet at `path`, one cutoff at a time (streamed from DuckDB)."""
    import pyarrow.parquet as pq

    from churnops.data.features import compute_labels

    with pq.ParquetWriter(path, LABELS_SCHEMA) as writer:
        for cutoff in cutoffs:
            frame = compute_labels(orders, cutoff, horizon_days).select(*LABELS_SCHEMA.names)
            if engine.name == "duckdb":
                from churnops.data.engines.duckdb import record_batches

                batches: Any = record_batches(frame, BATCH_ROWS)
            else:
                batches = engine.to_arrow(frame).to_batches(BATCH_ROWS)
            for batch in batches:
                writer.write_table(pa.Table.from_batches([batch]).cast(LABELS_SCHEMA))
