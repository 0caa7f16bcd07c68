"""Plots draw what their inputs say: heatmap cells, score medians, coverage bars, intervals."""

from __future__ import annotations

import io
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from churnops.monitoring.report import plots

WINDOWS = [datetime(1997, m, 1) for m in (7, 8, 9, 10)]


def drift_rows() -> pd.DataFrame:
    """A `_drift_metrics` slice: two numeric features, one categorical, plus rows to ignore."""
    rows = []
    for i, start in enumerate(WINDOWS):
        window = {"start": start, "end": start + pd.offsets.MonthBegin(1)}
        base = {
            "window": window,
            "granularity": "1 month",
            "model_version": "*",
            "log_type": "INPUT",
            "slice_key": None,
            "slice_value": None,
            "drift_type": "BASELINE",
            "js_distance": None,
        }
        rows.append(
            {
                **base,
                "column_name": "recency",
                "population_stability_index": 0.1 * i,
                "ks_test": {"statistic": 0.05 * i, "pvalue": 0.5},
            }
        )
        rows.append(
            {
                **base,
                "column_name": "spend",
                "population_stability_index": 0.01,
                "ks_test": {"statistic": 0.01, "pvalue": 0.9},
            }
        )
        rows.append(
            {
                **base,
                "column_name": "segment",
                "population_stability_index": None,
                "ks_test": None,
                "js_distance": 0.2,
            }
        )
        # Not drawn: the model-quality row, a slice, a version, consecutive drift.
        rows.append({**base, "column_name": ":table", "population_stability_index": 9.0})
        rows.append(
            {
                **base,
                "column_name": "recency",
                "slice_key": "segment",
                "slice_value": "a",
                "population_stability_index": 9.0,
            }
        )
        rows.append(
            {
                **base,
                "column_name": "recency",
                "model_version": "2",
                "population_stability_index": 9.0,
            }
        )
        rows.append(
            {
                **base,
                "column_name": "recency",
                "drift_type": "CONSECUTIVE",
                "population_stability_index": 9.0,
            }
        )
    return pd.DataFrame(rows)


def png_bytes(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def test_drift_heatmap_cells_are_the_whole_table_baseline_rows():
    fig = plots.drift_heatmap(drift_rows())
    cells = np.asarray(fig.axes[0].images[0].get_array())
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["recency", "segment", "spend"]
    np.testing.assert_allclose(cells[0], [0.0, 0.1, 0.2, 0.3])
    np.testing.assert_allclose(cells[1], [0.2] * 4)  # categorical: js_distance stands in
    np.testing.assert_allclose(cells[2], [0.01] * 4)
    assert png_bytes(fig).startswith(b"\x89PNG")


def test_drift_heatmap_reads_a_struct_field_and_names_a_missing_column():
    fig = plots.drift_heatmap(drift_rows(), "ks_test.statistic")
    cells = np.asarray(fig.axes[0].images[0].get_array())
    np.testing.assert_allclose(cells[0], [0.0, 0.05, 0.1, 0.15])
    with pytest.raises(ValueError, match=r"drift_metrics: lacks column\(s\) \['wasserstein"):
        plots.drift_heatmap(drift_rows(), "wasserstein_distance")


def test_score_distribution_draws_each_versions_monthly_median():
    rng = np.random.default_rng(0)
    ts = pd.to_datetime(["1997-07-31", "1997-08-31"] * 200).tz_localize("UTC")
    frame = pd.DataFrame(
        {
            "timestamp": ts,
            "model_version": ["1", "2"] * 200,
            "is_shadow": [False] * 400,
            "probability": rng.random(400),
        }
    )
    frame.loc[frame.index[:10], "is_shadow"] = True
    fig = plots.score_distribution(frame)
    panels = {ax.get_title(): ax for ax in fig.axes}
    assert set(panels) == {"version 1", "version 2", "version 1 (shadow)", "version 2 (shadow)"}
    live_1 = frame[(frame["model_version"] == "1") & ~frame["is_shadow"]]
    want = live_1.groupby(live_1["timestamp"].dt.month)["probability"].median().to_numpy()
    (median,) = [ln for ln in panels["version 1"].get_lines() if ln.get_label() == "median"]
    np.testing.assert_allclose(median.get_ydata(), want)


def test_quality_over_time_shows_estimates_and_label_coverage():
    quality = pd.DataFrame(
        {
            "window_start": WINDOWS * 2,
            "model_version": ["1"] * 4 + ["*"] * 4,
            "realized_roc_auc": [0.8, 0.78, np.nan, np.nan] * 2,
            "estimated_roc_auc": [0.79, 0.79, 0.77, 0.75] * 2,
            "label_coverage": [1.0, 1.0, 0.0, 0.0] * 2,
        }
    )
    fig = plots.quality_over_time(quality)
    top, bottom = fig.axes
    dashed = [ln for ln in top.get_lines() if ln.get_linestyle() == "--"]
    assert len(dashed) == 2
    np.testing.assert_allclose(dashed[0].get_ydata(), [0.79, 0.79, 0.77, 0.75])
    assert [p.get_height() for p in bottom.patches] == [1.0, 1.0, 0.0, 0.0] * 2
    with pytest.raises(ValueError, match=r"quality: lacks column\(s\) \['label_coverage'\]"):
        plots.quality_over_time(quality.drop(columns="label_coverage"))


def test_ab_differences_draws_each_interval_around_its_difference():
    comparisons = pd.DataFrame(
        {
            "metric": ["roc_auc", "log_loss"],
            "difference": [0.02, -0.01],
            "ci_low": [0.005, -0.03],
            "ci_high": [0.035, 0.01],
            "p_value": [0.01, np.nan],
        }
    )
    fig = plots.ab_differences(comparisons)
    assert len(fig.axes) == 2
    assert fig.axes[0].get_title().startswith("roc_auc: +0.0200")
    segments = fig.axes[0].collections[-1].get_segments()[0]
    np.testing.assert_allclose(segments[:, 0], [0.005, 0.035])
    # log loss: lower is better, so the shaded side is left of zero
    shade = fig.axes[1].patches[0].get_extents().transformed(fig.axes[1].transData.inverted())
    assert shade.x1 == pytest.approx(0.0, abs=1e-9) and shade.x0 < 0


def test_drift_heatmap_keeps_small_drifts_visible_and_marks_the_policy_threshold():
    frame = drift_rows()
    big = frame["column_name"] == "spend"
    frame.loc[big, "population_stability_index"] = 8.0  # one feature far off, as tenure is
    fig = plots.drift_heatmap(frame, threshold=0.2)
    ax, bar = fig.axes
    image = ax.images[0]
    # A log colour scale: 0.1 and 0.3 get colours far apart beside an 8, not the same pale one.
    norm = image.norm
    assert norm(0.3) - norm(0.1) > 0.1 and norm(0.0) == 0
    labels = {t.get_text(): t.get_weight() for t in ax.texts}
    assert labels["0.3"] == "bold" and labels["0.1"] == "normal"  # above the 0.2 threshold
    lines = [ln for ln in bar.lines if np.allclose(ln.get_ydata(), 0.2)]
    assert lines and any("policy 0.2" in t.get_text() for t in bar.texts)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1997-07", "1997-08", "1997-09",
                                                           "1997-10"]  # fmt: skip


def test_one_window_gets_a_window_wide_time_axis_not_years():
    import matplotlib.dates as mdates

    frame = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(["2026-12-06 10:00"] * 50).tz_localize("UTC"),
            "model_version": ["1"] * 50,
            "probability": np.linspace(0, 1, 50),
        }
    )
    fig = plots.score_distribution(frame, granularity="1 day")
    low, high = (mdates.num2date(x) for x in fig.axes[0].get_xlim())
    assert (high - low).days <= 1
