"""Refresh: a shift is flagged from its window on, statistics match scipy on the raw rows,
quality matches sklearn, late labels and new rows recompute only their windows."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake
from scipy import stats
from sklearn.metrics import log_loss, roc_auc_score

from churnops.monitoring.config import MonitorConfig
from churnops.monitoring.refresh.run import refresh_monitor
from churnops.monitoring.refresh.statistics import BinSpec
from tests.monitoring.conftest import SHIFT_AT
from tests.monitoring.synthetic_tables import START, baseline_for, labels_for, predictions, write


def _table(cfg, suffix):
    return DeltaTable(cfg.table_path(suffix)).to_pandas()


def _day(start) -> int:
    return (start - START.replace(hour=0, second=0)).days


def test_shift_is_flagged_from_its_window_on(shifted):
    cfg, _, _ = shifted
    d = _table(cfg, "drift_metrics")
    base = d[(d.drift_type == "BASELINE") & d.slice_key.isna() & (d.model_version == "*")]
    for column in ("f0", "f1"):
        rows = base[base.column_name == column]
        flagged = {
            _day(w["start"])
            for w, psi in zip(rows.window, rows.population_stability_index, strict=True)
            if psi > 0.2
        }
        assert flagged == (set(range(SHIFT_AT, 8)) if column == "f0" else set())
    consecutive = d[
        (d.drift_type == "CONSECUTIVE")
        & d.slice_key.isna()
        & (d.column_name == "f0")
        & (d.model_version == "*")
    ]
    jumps = {
        _day(w["start"])
        for w, ks in zip(consecutive.window, consecutive.ks_test, strict=True)
        if ks["pvalue"] < 1e-6
    }
    assert jumps == {SHIFT_AT}  # the window the shift starts, then stable again


def test_drift_statistics_match_scipy_and_numpy_on_raw_rows(shifted):
    cfg, preds, _ = shifted
    from tests.monitoring.synthetic_tables import baseline_for

    base = baseline_for(5000)["f0"].to_numpy()
    d = _table(cfg, "drift_metrics")
    rows = d[
        (d.drift_type == "BASELINE")
        & d.slice_key.isna()
        & (d.model_version == "*")
        & (d.column_name == "f0")
    ]
    days = np.array([(t - START).days for t in preds["timestamp"].to_pylist()])
    state = json.loads(Path(cfg.table_path("state.json")).read_text())
    spec = BinSpec(**state["specs"]["f0"])
    for window, ks, psi in zip(
        rows.window, rows.ks_test, rows.population_stability_index, strict=True
    ):
        cur = preds["f0"].to_numpy()[days == _day(window["start"])]
        assert abs(ks["statistic"] - stats.ks_2samp(cur, base).statistic) <= 0.005
        # PSI at the baseline's deciles of the fine bins, with numpy on the raw values.
        fine = np.bincount(spec.index(base), minlength=spec.bins)
        from churnops.monitoring.refresh.statistics import EPS, psi_edges

        edges = spec.edges()[psi_edges(fine, 10)]
        edges[0], edges[-1] = -np.inf, np.inf  # the outer bins hold everything beyond
        e = np.maximum(np.histogram(base, edges)[0] / len(base), EPS)
        a = np.maximum(np.histogram(cur, edges)[0] / len(cur), EPS)
        assert psi == pytest.approx(np.sum((a - e) * np.log(a / e)), rel=1e-6)


def test_quality_rows_match_sklearn_and_count_labelled_share(shifted):
    cfg, preds, _ = shifted
    p = _table(cfg, "profile_metrics")
    table = p[(p.column_name == ":table") & p.slice_key.isna() & (p.log_type == "INPUT")]
    days = np.array([(t - START).days for t in preds["timestamp"].to_pylist()])
    labels = labels_for(preds.filter(days < 3))["churn"].to_numpy()
    for _, r in table.iterrows():
        day = _day(r.window["start"])
        if day >= 3:
            assert r.percent_labelled == 0 and np.isnan(r.roc_auc_score)
            continue
        mine = days[days < 3] == day
        if r.model_version != "*":
            mine &= preds.filter(days < 3)["model_version"].to_numpy() == r.model_version
        prob = preds.filter(days < 3)["probability"].to_numpy()[mine]
        assert r.percent_labelled == 100.0
        assert r.roc_auc_score == pytest.approx(roc_auc_score(labels[mine], prob), abs=1e-3)
        assert r.log_loss == pytest.approx(log_loss(labels[mine], prob), rel=1e-9)
        cm = {(c["prediction"], c["label"]): c["count"] for c in r.confusion_matrix}
        assert sum(cm.values()) == mine.sum()
    baseline = p[(p.column_name == ":table") & (p.log_type == "BASELINE") & p.slice_key.isna()]
    assert len(baseline) == 1 and baseline.iloc[0].roc_auc_score > 0.7


def test_tables_carry_databricks_column_names(shifted):
    cfg, _, _ = shifted
    profile = DeltaTable(cfg.table_path("profile_metrics")).schema().to_arrow()
    drift = DeltaTable(cfg.table_path("drift_metrics")).schema().to_arrow()
    for name in [
        "window",
        "granularity",
        "model_version",
        "log_type",
        "slice_key",
        "slice_value",
        "column_name",
        "count",
        "num_nulls",
        "avg",
        "stddev",
        "min",
        "max",
        "quantiles",
        "distinct_count",
        "frequent_items",
        "percent_null",
    ]:
        assert name in profile.names
    for name in [
        "window",
        "window_cmp",
        "drift_type",
        "ks_test",
        "wasserstein_distance",
        "population_stability_index",
        "chi_squared_test",
        "js_distance",
        "tv_distance",
        "l_infinity_distance",
        "count_delta",
        "avg_delta",
        "percent_null_delta",
    ]:
        assert name in drift.names
    p = _table(cfg, "profile_metrics")
    seg = p[(p.column_name == "segment") & (p.log_type == "INPUT")].iloc[0]
    assert {i["item"] for i in seg.frequent_items} == {"a", "b"}
    assert set(p.slice_value.dropna()) == {"a", "b"}


def test_mlops_stacks_retraining_query_runs_unchanged(tmp_path):
    # The retraining query of databricks/mlops-stacks' monitoring template, unchanged; a
    # predictions table whose model id column is called model_id, as in that template.
    t = predictions(6, 300, seed=2)
    t = t.rename_columns(["model_id" if n == "model_version" else n for n in t.column_names])
    write(tmp_path / "preds", t)
    write(tmp_path / "labels", labels_for(t))
    cfg = MonitorConfig(
        table=str(tmp_path / "preds"),
        output_dir=str(tmp_path / "out"),
        name="predictions",
        model_id_col="model_id",
        labels_table=str(tmp_path / "labels"),
    )
    refresh_monitor(cfg)
    from churnops.data.engines import get_engine
    from churnops.monitoring.analysis.decision import spark_sql_rows
    from churnops.monitoring.refresh.frames import table_frame

    engine = get_engine("duckdb")
    table_frame(engine, cfg.table_path("profile_metrics")).createOrReplaceTempView(
        "predictions_profile_metrics"
    )
    # metric_violation_check_query.py.tmpl's `sql_query` as merged (databricks/mlops-stacks
    # #156, template/.../monitoring/), character for character; formatted as its notebook does.
    query = """WITH recent_metrics AS (
  SELECT
    {metric_to_monitor},
    window
  FROM
    {table_name_under_monitor}_profile_metrics
  WHERE
    column_name = ":table"
    AND slice_key IS NULL
    AND model_id != "*"
    AND log_type = "INPUT"
  ORDER BY
    window DESC
  LIMIT
    {num_evaluation_windows}
)
SELECT
  CASE
    WHEN
      (SELECT COUNT(*) FROM recent_metrics WHERE {metric_to_monitor} > {metric_violation_threshold}) >= {num_violation_windows}
      AND
      (SELECT {metric_to_monitor} FROM recent_metrics ORDER BY window DESC LIMIT 1) > {metric_violation_threshold}
    THEN 1
    ELSE 0
  END AS query_result
"""  # noqa: E501

    def violated(threshold: float) -> list[dict]:
        text = query.format(
            table_name_under_monitor="predictions",
            metric_to_monitor="log_loss",
            metric_violation_threshold=threshold,
            num_evaluation_windows=5,
            num_violation_windows=2,
        )
        return spark_sql_rows(engine, text)

    assert violated(0.1) == [{"query_result": 1}]
    assert violated(5.0) == [{"query_result": 0}]


def test_late_labels_and_new_rows_recompute_only_their_windows(tmp_path):
    preds = predictions(5, 300, seed=4)
    write(tmp_path / "preds", preds)
    days = np.array([(t - START).days for t in preds["timestamp"].to_pylist()])
    write(tmp_path / "labels", labels_for(preds.filter(days < 2)))
    cfg = MonitorConfig(
        table=str(tmp_path / "preds"),
        output_dir=str(tmp_path / "out"),
        labels_table=str(tmp_path / "labels"),
    )
    assert refresh_monitor(cfg).mode == "full"
    before = _table(cfg, "profile_metrics")
    assert refresh_monitor(cfg).mode == "unchanged"

    # Labels for day 3 arrive: days 3.. are recomputed, days 0-2 are kept as they were.
    write(tmp_path / "labels", labels_for(preds.filter(days == 3)))
    result = refresh_monitor(cfg)
    assert result.mode == "incremental" and result.since == {"1 day": "2024-01-04T00:00:00+00:00"}
    after = _table(cfg, "profile_metrics")
    quality = after[(after.column_name == ":table") & (after.model_version == "*")]
    labelled = {
        _day(w["start"]): pct
        for w, pct in zip(quality.window, quality.percent_labelled, strict=True)
    }
    assert labelled == {0: 100.0, 1: 100.0, 2: 0.0, 3: 100.0, 4: 0.0}
    counted = {
        _day(w["start"]): n for w, n in zip(quality.window, quality.num_labelled, strict=True)
    }
    assert counted[2] == counted[4] == 0  # zero labelled rows, not NULL
    old = before[before.window.map(lambda w: w["start"].day < 4)]
    kept = after[after.window.map(lambda w: w["start"].day < 4)]
    assert len(old) == len(kept)
    assert set(kept.logging_table_commit_version) == {0}

    # A new day of rows: only that window (and its drift against the previous one) is added.
    write(tmp_path / "preds", predictions(1, 300, seed=8, start=5))
    result = refresh_monitor(cfg)
    assert result.mode == "incremental" and result.windows == 1
    final = _table(cfg, "profile_metrics")
    new = final[final.logging_table_commit_version == 1]
    assert {w["start"] for w in new.window} == {
        START.replace(hour=0, second=0) + dt.timedelta(days=5)
    }
    drift = _table(cfg, "drift_metrics")
    assert drift.window.map(lambda w: w["start"].day).max() == 6


def test_a_label_older_than_max_label_age_days_leaves_the_prediction_unlabelled(tmp_path):
    preds = predictions(1, 200, seed=5)
    write(tmp_path / "preds", preds)
    labels = labels_for(preds)
    two_days_early = pa.array(
        [d - dt.timedelta(days=2) for d in labels["cutoff"].to_pylist()], pa.date32()
    )
    write(tmp_path / "labels", labels.set_column(1, "cutoff", two_days_early))
    share = {}
    for age in (None, 3, 1):
        cfg = MonitorConfig(
            table=str(tmp_path / "preds"),
            output_dir=str(tmp_path / f"out-{age}"),
            labels_table=str(tmp_path / "labels"),
            max_label_age_days=age,
        )
        refresh_monitor(cfg)
        out = _table(cfg, "profile_metrics")
        row = out[(out.column_name == ":table") & (out.model_version == "*")].iloc[0]
        share[age] = row.percent_labelled
    assert share == {None: 100.0, 3: 100.0, 1: 0.0}


def test_whole_number_column_gets_exact_ks_and_quantiles(tmp_path):
    # A count feature: whole numbers in the baseline, shifted by a non-integer amount in the
    # windows (values just below the baseline's integers), as the benchmark's count columns.
    rng = np.random.default_rng(6)
    preds = predictions(3, 2000, seed=6)
    counts = rng.poisson(4, preds.num_rows) + np.repeat([0.0, 0.9998, 1.9996], 2000)
    write(tmp_path / "preds", preds.append_column("orders", pa.array(counts)))
    base = rng.poisson(4, 6000).astype(float)
    baseline = predictions(1, 6000, seed=7).drop_columns(["timestamp", "model_version"])
    write(tmp_path / "baseline", baseline.append_column("orders", pa.array(base)))
    cfg = MonitorConfig(
        table=str(tmp_path / "preds"),
        output_dir=str(tmp_path / "out"),
        baseline_table=str(tmp_path / "baseline"),
    )
    refresh_monitor(cfg)
    state = json.loads(Path(cfg.table_path("state.json")).read_text())
    assert state["specs"]["orders"]["integral"] and not state["specs"]["f0"]["integral"]
    d = _table(cfg, "drift_metrics")
    rows = d[(d.drift_type == "BASELINE") & (d.model_version == "*") & (d.column_name == "orders")]
    assert len(rows) == 3
    for window, ks in zip(rows.window, rows.ks_test, strict=True):
        cur = counts[_day(window["start"]) * 2000 : (_day(window["start"]) + 1) * 2000]
        assert ks["statistic"] == pytest.approx(stats.ks_2samp(cur, base).statistic, abs=1e-12)
    p = _table(cfg, "profile_metrics")
    (row,) = p[(p.log_type == "BASELINE") & (p.column_name == "orders")].itertuples()
    qs = np.quantile(base, cfg.quantiles, method="inverted_cdf")
    assert list(row.quantiles) == list(qs)
    assert row.median == np.quantile(base, 0.5, method="inverted_cdf")


def test_nulls_are_counted_as_nulls_not_binned(tmp_path, engine):
    # A feature missing for 30% of rows, and for every row of day 2: KS and quantiles read the
    # values only; a window with none has no KS rather than a maximal one.
    rng = np.random.default_rng(11)
    preds = predictions(3, 1500, seed=11)
    tenure = rng.gamma(3.0, 100.0, preds.num_rows)
    missing = (rng.random(preds.num_rows) < 0.3) | (np.arange(preds.num_rows) >= 3000)
    column = pa.array(np.where(missing, np.nan, tenure), mask=missing)
    write(tmp_path / "preds", preds.append_column("tenure", column))
    base = rng.gamma(3.0, 100.0, 6000)
    baseline = predictions(1, 6000, seed=12).drop_columns(["timestamp", "model_version"])
    write(tmp_path / "baseline", baseline.append_column("tenure", pa.array(base)))
    cfg = MonitorConfig(
        table=str(tmp_path / "preds"),
        output_dir=str(tmp_path / "out"),
        baseline_table=str(tmp_path / "baseline"),
        engine=engine.name,
    )
    refresh_monitor(cfg, engine=engine)
    d = _table(cfg, "drift_metrics")
    rows = d[(d.drift_type == "BASELINE") & (d.model_version == "*") & (d.column_name == "tenure")]
    p = _table(cfg, "profile_metrics")
    prof = p[(p.log_type == "INPUT") & (p.model_version == "*") & (p.column_name == "tenure")]
    prof = prof[prof.slice_key.isna()]
    for window, ks in zip(rows.window, rows.ks_test, strict=True):
        day = _day(window["start"])
        day_rows = slice(day * 1500, (day + 1) * 1500)
        cur = tenure[day_rows][~missing[day_rows]]
        (row,) = prof[prof.window.map(lambda w, day=day: _day(w["start"]) == day)].itertuples()
        assert row.num_nulls == missing[day_rows].sum()
        if len(cur) == 0:
            assert np.isnan(ks["statistic"]) and np.isnan(ks["pvalue"])
            assert row.quantiles is None
            continue
        assert ks["statistic"] == pytest.approx(stats.ks_2samp(cur, base).statistic, abs=0.005)
        assert row.quantiles[0] == pytest.approx(np.quantile(cur, cfg.quantiles[0]), rel=0.02)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"timestamp_col": "ts"}, "timestamp_col='ts': expected a column of"),
        ({"model_id_col": "version"}, "model_id_col='version': expected a column of"),
        ({"prediction_proba_col": "prob"}, "prediction_proba_col='prob': expected a column"),
        ({"slicing_exprs": ["segmnt"]}, r"slicing_exprs\[0\]='segmnt': expected an expression"),
        ({"baseline_table": "nowhere"}, "baseline_table='.*nowhere': no Delta table there"),
        ({"labels_table": "nowhere"}, "labels_table='.*nowhere': no Delta table there"),
        ({"labels_table": "labels", "label_col": "churned"}, "label_col='churned': expected a"),
        ({"labels_table": "words"}, "label_col='churn': expected 0/1 labels"),
        ({"timestamp_col": "request_id"}, "timestamp_col='request_id': expected a timestamp"),
    ],
)
def test_bad_column_or_table_names_are_named_before_any_engine_work(tmp_path, override, message):
    preds = predictions(2, 50, seed=2)
    write(tmp_path / "preds", preds)
    write(tmp_path / "labels", labels_for(preds))
    words = labels_for(preds)
    churn = pa.array(["yes" if v else "no" for v in words["churn"].to_pylist()])
    write(
        tmp_path / "words", words.set_column(words.schema.get_field_index("churn"), "churn", churn)
    )
    for key in ("baseline_table", "labels_table"):
        if key in override:
            override[key] = str(tmp_path / override[key])
    cfg = MonitorConfig(table=str(tmp_path / "preds"), output_dir=str(tmp_path / "out"), **override)
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        refresh_monitor(cfg)
    assert not (tmp_path / "out").exists()  # nothing written


def test_feature_cols_and_a_column_added_later_keep_refreshes_working(tmp_path):
    preds = predictions(3, 200, seed=13)
    write(tmp_path / "preds", preds)
    write(tmp_path / "baseline", baseline_for(600))
    cfg = MonitorConfig(
        table=str(tmp_path / "preds"),
        output_dir=str(tmp_path / "out"),
        baseline_table=str(tmp_path / "baseline"),
        feature_cols=["f0", "f1"],
    )
    assert refresh_monitor(cfg).mode == "full"
    assert cfg.feature_cols == ["f0", "f1"]  # the refresh leaves the config as it was
    assert refresh_monitor(cfg).mode == "unchanged"

    # A day with a column the baseline and the earlier rows lack.
    later = predictions(1, 200, seed=14, start=3)
    wider = later.append_column("nps", pa.array(np.arange(200.0)))
    write_deltalake(str(tmp_path / "preds"), wider, mode="append", schema_mode="merge")
    wide = cfg.model_copy(update={"feature_cols": ["f0", "f1", "nps"]})
    assert refresh_monitor(wide, full=True).mode == "full"
    p = _table(wide, "profile_metrics")
    nps = p[(p.column_name == "nps") & (p.model_version == "*") & (p.log_type == "INPUT")]
    assert {_day(w["start"]): c for w, c in zip(nps.window, nps["count"], strict=True)} == {
        0: 0,
        1: 0,
        2: 0,
        3: 200,
    }
    d = _table(wide, "drift_metrics")
    assert "BASELINE" not in set(d[d.column_name == "nps"].drift_type)  # the baseline lacks it
