"""The same monitor gives the same tables on DuckDB and Spark (one definition, two engines).

Exact aggregates, quantiles (read off the same fine bins) and every drift and quality statistic
must agree; the distinct-count sketch is engine-specific and not compared.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from deltalake import DeltaTable

from churnops.monitoring.config import MonitorConfig
from churnops.monitoring.refresh.run import refresh_monitor
from tests.monitoring.synthetic_tables import START, baseline_for, labels_for, predictions, write

pytestmark = pytest.mark.spark

KEY = ["granularity", "model_version", "log_type", "slice_key", "slice_value", "column_name"]
DKEY = ["granularity", "model_version", "slice_key", "slice_value", "column_name", "drift_type"]


def _tables(tmp_path, engine, name):
    cfg = MonitorConfig(
        table=str(tmp_path / "preds"),
        output_dir=str(tmp_path / name),
        name=name,
        baseline_table=str(tmp_path / "baseline"),
        labels_table=str(tmp_path / "labels"),
        slicing_exprs=["segment"],
        engine=engine.name,
    )
    refresh_monitor(cfg, engine=engine)
    read = lambda s: DeltaTable(cfg.table_path(s)).to_pandas()  # noqa: E731
    return read("profile_metrics"), read("drift_metrics")


def _sorted(df, keys):
    df = df.assign(_w=df.window.map(lambda w: w["start"] if w else None))
    return df.sort_values(["_w", *keys], na_position="first").reset_index(drop=True)


def test_profile_and_drift_tables_match_across_engines(tmp_path, duckdb_engine, spark_engine):
    preds = predictions(4, 300, shift_at=2, versions=("1", "2"), seed=21)
    # A whole-number count column (integral bins), shifted off the integers in later windows.
    rng = np.random.default_rng(21)
    orders = rng.poisson(3, preds.num_rows) + np.repeat([0.0, 0.0, 0.9998, 0.9998], 300)
    write(tmp_path / "preds", preds.append_column("orders", pa.array(orders)))
    baseline = baseline_for(2000)
    orders = rng.poisson(3, baseline.num_rows).astype(float)
    write(tmp_path / "baseline", baseline.append_column("orders", pa.array(orders)))
    days = np.array([(t - START).days for t in preds["timestamp"].to_pylist()])
    write(tmp_path / "labels", labels_for(preds.filter(days < 3)))
    p1, d1 = _tables(tmp_path, duckdb_engine, "duck")
    p2, d2 = _tables(tmp_path, spark_engine, "spark")
    p1, p2 = _sorted(p1, KEY), _sorted(p2, KEY)
    d1, d2 = _sorted(d1, DKEY), _sorted(d2, DKEY)
    assert len(p1) == len(p2) > 50 and len(d1) == len(d2) > 50
    assert "orders" in set(d1.column_name)
    for col in [*KEY, "count", "num_nulls", "num_zeros", "percent_labelled", "num_labelled"]:
        assert p1[col].fillna(-1).tolist() == p2[col].fillna(-1).tolist(), col
    for col in [
        "avg",
        "stddev",
        "min",
        "max",
        "roc_auc_score",
        "log_loss",
        "brier_score",
        "accuracy_score",
        "expected_calibration_error",
    ]:
        np.testing.assert_allclose(
            p1[col].astype(float), p2[col].astype(float), rtol=1e-9, err_msg=col
        )
    np.testing.assert_allclose(p1["median"].astype(float), p2["median"].astype(float), rtol=1e-9)
    quantiles = lambda p: np.array([q if q is not None else [np.nan] * 5 for q in p.quantiles])  # noqa: E731
    np.testing.assert_allclose(quantiles(p1).astype(float), quantiles(p2).astype(float), rtol=1e-9)
    for col in DKEY:
        assert d1[col].fillna("").tolist() == d2[col].fillna("").tolist(), col
    ks = lambda d: d.ks_test.map(lambda t: t["statistic"] if t else np.nan)  # noqa: E731
    np.testing.assert_allclose(ks(d1), ks(d2), atol=1e-9)
    for col in [
        "population_stability_index",
        "wasserstein_distance",
        "js_distance",
        "tv_distance",
        "count_delta",
        "avg_delta",
    ]:
        np.testing.assert_allclose(
            d1[col].astype(float), d2[col].astype(float), rtol=1e-7, atol=1e-12, err_msg=col
        )
