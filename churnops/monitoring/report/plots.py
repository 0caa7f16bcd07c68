"""Monitoring plots (matplotlib, Agg): drift by feature and window, scores by version over time,
quality over time with label coverage, A/B differences with intervals. Each returns a Figure."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

# The object API with no pyplot: figures draw on the Agg canvas, never touch the user's backend.
from matplotlib import colormaps
from matplotlib.colors import SymLogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from churnops.monitoring.analysis.estimate import ALL_VERSIONS
from churnops.monitoring.windows import window_start

# Lower is better for these: the A/B plot says which side favours the treatment.
LOWER_IS_BETTER = frozenset({"log_loss", "brier"})


def _window_starts(frame: pd.DataFrame) -> pd.Series:
    """`window.start` of metric-table rows (a struct column), or a flat `window_start`."""
    if "window_start" in frame:
        return pd.to_datetime(frame["window_start"])
    if "window" not in frame:
        raise ValueError(f"metrics: lacks a `window` column; has {list(frame.columns)}")
    return pd.to_datetime(frame["window"].map(lambda w: w["start"]))


def _value(cell: Any, field: str | None) -> float:
    if field is None:
        return np.nan if cell is None else float(cell)
    return np.nan if cell is None else float(cell[field])


def drift_heatmap(
    drift_metrics: pd.DataFrame,
    statistic: str = "population_stability_index",
    *,
    drift_type: str = "BASELINE",
    model_id_col: str = "model_version",
    model_id: str = ALL_VERSIONS,
    granularity: str | None = None,
    threshold: float | None = None,
) -> Figure:
    """Feature x window heatmap of a drift statistic from a `_drift_metrics` table, on a log
    colour scale (small drifts stay visible beside a large one), each cell labelled.

    Args:
        drift_metrics: the `<name>_drift_metrics` table (docs/monitoring.md#tables) as pandas.
        statistic: a column (`population_stability_index`, `js_distance`, ...) or a struct field
            (`ks_test.statistic`). Columns without it (categorical ones for PSI) fall back to
            `js_distance`.
        drift_type: `BASELINE` or `CONSECUTIVE`.
        model_id_col, model_id: which version's rows (`'*'`: all versions together).
        granularity: keep only this granularity (default: the first one present).
        threshold: the retraining policy's level for this statistic, marked on the colour bar
            (cells above it in bold); None marks nothing.
    """
    column, _, field = statistic.partition(".")
    needed = ["column_name", "drift_type", "slice_key", model_id_col, column]
    missing = [c for c in needed if c not in drift_metrics]
    if missing:
        raise ValueError(f"drift_metrics: lacks column(s) {missing}")
    rows = drift_metrics[
        drift_metrics["slice_key"].isna()
        & (drift_metrics["drift_type"] == drift_type)
        & (drift_metrics[model_id_col].astype(str) == model_id)
        & ~drift_metrics["column_name"].astype(str).str.startswith(":")
    ]
    if granularity is None and "granularity" in rows and len(rows):
        granularity = rows["granularity"].iloc[0]
    if granularity is not None and "granularity" in rows:
        rows = rows[rows["granularity"] == granularity]
    values = rows[column].map(lambda c: _value(c, field or None))
    if "js_distance" in rows and column != "js_distance":
        values = values.fillna(rows["js_distance"].astype(float))
    data = pd.DataFrame(
        {"feature": rows["column_name"], "window": _window_starts(rows), "value": values.to_numpy()}
    )
    grid = data.pivot_table(index="feature", columns="window", values="value", aggfunc="first")
    values_grid = grid.to_numpy(dtype=float)
    fig = Figure(figsize=(max(6, 0.8 * grid.shape[1] + 4), 0.38 * len(grid) + 2.2))
    ax = fig.subplots()
    # Logarithmic above `floor`, linear below: one feature drifting by 8 would otherwise paint
    # 0.1 and 0.5 alike; zero stays zero, and a missing cell shows grey.
    floor = min(threshold / 10, 0.01) if threshold else 0.01
    finite = values_grid[np.isfinite(values_grid)]
    top = max(float(finite.max()) if finite.size else 1.0, (threshold or 0) * 2, floor * 10)
    norm = SymLogNorm(linthresh=floor, vmin=0, vmax=top, base=10, clip=True)
    cmap = colormaps["magma_r"].with_extremes(bad="#dddddd")
    image = ax.imshow(values_grid, aspect="auto", cmap=cmap, norm=norm)
    for (i, j), value in np.ndenumerate(values_grid):
        if np.isfinite(value):  # the number itself, bold where the policy's threshold is passed
            above = threshold is not None and value > threshold
            dark = norm(value) > 0.55
            color, weight = ("white" if dark else "black"), ("bold" if above else "normal")
            ax.text(j, i, f"{value:.2g}", ha="center", va="center", fontsize="x-small",
                    color=color, weight=weight)  # fmt: skip
    ax.set_xticks(
        range(grid.shape[1]),
        [_window_label(w, granularity) for w in grid.columns],
        rotation=45,
        ha="right",
    )
    ax.set_yticks(range(len(grid)), grid.index)
    bar = fig.colorbar(image, ax=ax)
    if threshold is not None:
        bar.ax.axhline(threshold, color="tab:blue", linewidth=2)
        where = bar.ax.get_yaxis_transform()
        bar.ax.text(1.05, threshold, f" policy {threshold:g}", color="tab:blue", transform=where,
                    va="center", fontsize="small")  # fmt: skip
    # Two lines: with few windows the figure is narrower than the title.
    marked = f"; bold: above the policy's {threshold:g}" if threshold is not None else ""
    ax.set_title(
        f"{drift_type.lower()} drift by feature and window\n{statistic} (log colour{marked})"
    )
    fig.tight_layout()
    return fig


def _window_label(start: pd.Timestamp, granularity: str | None) -> str:
    """A window's tick: the month for monthly windows, the day otherwise."""
    return start.strftime("%Y-%m") if granularity == "1 month" else start.strftime("%Y-%m-%d")


def _date_axis(ax: Any, starts: pd.Series, granularity: str | None = None) -> None:
    """A time axis spanning the windows shown, half a window either side, with short labels:
    one window's point gets a window-wide axis, not years of empty range."""
    import matplotlib.dates as mdates

    starts = pd.to_datetime(pd.Series(starts)).dropna()
    if starts.empty:
        return
    step = {"1 hour": "1h", "1 day": "1D", "1 week": "7D"}.get(granularity or "", "31D")
    pad = pd.Timedelta(step) / 2
    ax.set_xlim(starts.min() - pad, starts.max() + pad)
    locator = mdates.AutoDateLocator(minticks=2, maxticks=12)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def score_distribution(
    predictions: pd.DataFrame,
    *,
    granularity: str = "1 month",
    version_col: str = "model_version",
    timestamp_col: str = "timestamp",
) -> Figure:
    """Median score per version and window, with the 25-75% and 5-95% bands around it."""
    missing = [c for c in (version_col, timestamp_col, "probability") if c not in predictions]
    if missing:
        raise ValueError(f"predictions: lacks column(s) {missing}")
    frame = predictions.assign(__w=window_start(predictions[timestamp_col], granularity).values)
    if "is_shadow" in frame:
        frame = frame.assign(
            **{
                version_col: np.where(
                    frame["is_shadow"].astype(bool),
                    frame[version_col].astype(str) + " (shadow)",
                    frame[version_col].astype(str),
                )
            }
        )
    q = frame.groupby([version_col, "__w"])["probability"].quantile([0.05, 0.25, 0.5, 0.75, 0.95])
    q = q.unstack()
    versions = list(dict.fromkeys(q.index.get_level_values(0)))
    # One panel per version: overlapping bands of several versions hide each other.
    fig = Figure(figsize=(3.6 * len(versions) + 1, 4))
    axes = fig.subplots(1, len(versions), sharey=True, squeeze=False)[0]
    colors = matplotlib_colors()
    for i, (ax, version) in enumerate(zip(axes, versions, strict=True)):
        g = q.loc[version]
        color = colors[i % len(colors)]
        ax.fill_between(g.index, g[0.05], g[0.95], color=color, alpha=0.15, label="5-95%")
        ax.fill_between(g.index, g[0.25], g[0.75], color=color, alpha=0.35, label="25-75%")
        ax.plot(g.index, g[0.5], marker="o", color=color, label="median")
        ax.set_title(f"version {version}", fontsize="medium")
        _date_axis(ax, pd.Series(q.index.get_level_values(1)), granularity)
    axes[0].set_ylabel("P(churn)")
    axes[0].legend(fontsize="small")
    fig.suptitle(f"score distribution by version ({granularity} windows)")
    fig.tight_layout()
    return fig


def matplotlib_colors() -> list[str]:
    """The default colour cycle."""
    from matplotlib import rcParams

    return rcParams["axes.prop_cycle"].by_key()["color"]


def quality_over_time(
    quality: pd.DataFrame,
    metric: str = "roc_auc",
    *,
    model_id_col: str = "model_version",
    granularity: str | None = None,
) -> Figure:
    """Realized `metric` per version over time, the label-free estimate beside it (dashed),
    and the share of predictions already labelled below.

    Args:
        quality: `estimate_performance`'s frame: `window_start`, the model id, `realized_<metric>`,
            `estimated_<metric>` (optional), `label_coverage`.
        granularity: the windows' length, for the time axis's margins.
    """
    realized, estimated = f"realized_{metric}", f"estimated_{metric}"
    missing = [
        c for c in ("window_start", model_id_col, realized, "label_coverage") if c not in quality
    ]
    if missing:
        raise ValueError(f"quality: lacks column(s) {missing}")
    fig = Figure(figsize=(9, 6))
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    versions = sorted(quality[model_id_col].astype(str).unique())
    window = pd.Timedelta({"1 day": "1D", "1 week": "7D"}.get(granularity or "", "28D"))
    width = window * 0.8 / max(len(versions), 1)
    for i, (version, g) in enumerate(quality.groupby(model_id_col, sort=True)):
        g = g.sort_values("window_start")
        x = pd.to_datetime(g["window_start"])
        name = "all versions" if version == ALL_VERSIONS else f"version {version}"
        (line,) = top.plot(x, g[realized], marker="o", label=f"{name} realized")
        if estimated in g and g[estimated].notna().any():
            top.plot(
                x,
                g[estimated],
                linestyle="--",
                color=line.get_color(),
                label=f"{name} estimated (CBPE)",
            )
        offset = (i - (len(versions) - 1) / 2) * width  # the bars of a window centred on it
        bottom.bar(x + offset, g["label_coverage"], width=width, color=line.get_color())
    top.set_ylabel(metric)
    top.set_title(f"{metric} over time: realized where labels landed, estimated before")
    suppressed = (
        quality[~quality["reported"].astype(bool)] if "reported" in quality else quality[:0]
    )
    if len(suppressed) and "reason" in quality:
        fig.text(
            0.01,
            0.005,
            f"estimates suppressed: {suppressed['reason'].iloc[0]}",
            fontsize="x-small",
            color="tab:red",
            wrap=True,
        )
    top.legend(fontsize="small", ncol=2)
    bottom.set_ylabel("labelled")
    bottom.set_ylim(0, 1)
    _date_axis(bottom, quality["window_start"], granularity)
    fig.tight_layout()
    return fig


def ab_differences(comparisons: pd.DataFrame, treatment: str = "treatment") -> Figure:
    """Treatment - control per metric with its interval; the shaded side favours the treatment.

    Args:
        comparisons: `ABReport.comparisons` (metric, difference, ci_low, ci_high, p_value).
    """
    missing = [c for c in ("metric", "difference", "ci_low", "ci_high") if c not in comparisons]
    if missing:
        raise ValueError(f"comparisons: lacks column(s) {missing}")
    rows = comparisons.reset_index(drop=True)
    fig = Figure(figsize=(4 * max(len(rows), 1), 3))
    axes = fig.subplots(1, len(rows), squeeze=False)
    for ax, (_, row) in zip(axes[0], rows.iterrows(), strict=False):
        lo, hi, d = row["ci_low"], row["ci_high"], row["difference"]
        span = max(abs(lo), abs(hi), abs(d), 1e-6) * 1.3
        better = (-span, 0) if row["metric"] in LOWER_IS_BETTER else (0, span)
        ax.axvspan(*better, color="tab:green", alpha=0.08)
        ax.axvline(0, color="grey", linewidth=1)
        ax.errorbar([d], [0], xerr=[[d - lo], [hi - d]], fmt="o", capsize=6, color="tab:blue")
        ax.set_xlim(-span, span)
        ax.xaxis.set_major_locator(MaxNLocator(5, symmetric=True))
        ax.set_yticks([])
        p = row.get("p_value")
        note = f"\nDeLong p={p:.3g}" if p is not None and not pd.isna(p) else ""
        ax.set_title(f"{row['metric']}: {d:+.4f}{note}", fontsize="medium")
        ax.set_xlabel(f"{treatment} - control")
    fig.suptitle("A/B differences with intervals (green: favours the treatment)")
    fig.tight_layout()
    return fig
