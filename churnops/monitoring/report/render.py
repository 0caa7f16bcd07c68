"""`render_report`: given frames (drift metrics, predictions, quality, an A/B analysis), the plots
as PNG files and one self-contained HTML page (images inlined); `log_report` logs them to MLflow.
`monitor_report.monitor_report` reads a configured monitor's tables and renders them here."""

from __future__ import annotations

import base64
import html
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from churnops.monitoring.report import plots

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: right; }
th { background: #f3f3f3; }
img { max-width: 100%; }
.verdict { font-size: 1.2rem; padding: 0.6rem 1rem; border-left: 6px solid #888; }
.promote { border-color: #2a2; } .keep { border-color: #c33; } .inconclusive { border-color: #c90; }
"""


@dataclass
class ReportFiles:
    """What `render_report` wrote.

    Attributes:
        html: the self-contained page.
        images: plot name -> PNG file.
        metrics: headline numbers to log (`ab/roc_auc_difference`, ...).
    """

    html: Path
    images: dict[str, Path] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)


def render_report(
    out_dir: str | Path,
    *,
    drift_metrics: pd.DataFrame | None = None,
    predictions: pd.DataFrame | None = None,
    quality: pd.DataFrame | None = None,
    ab: Any = None,
    title: str = "churnops monitoring report",
    drift_statistic: str = "population_stability_index",
    drift_threshold: float | None = None,
    granularity: str = "1 month",
) -> ReportFiles:
    """Draw every plot the inputs allow, write PNGs and `report.html` under `out_dir`.

    Args:
        out_dir: the folder to write to (created).
        drift_metrics: a `<name>_drift_metrics` table (docs/monitoring.md#tables) for the drift
            heatmap.
        predictions: the predictions table (one row per scored customer) for the score
            distribution.
        quality: `estimate_performance`'s frame for quality over time.
        ab: an `ABReport` for the verdict, tables and the differences plot.
        title: the page title.
        drift_statistic: the heatmap's statistic.
        drift_threshold: the retraining policy's level for it, marked on the heatmap.
        granularity: the score distribution's window.
    """
    if all(x is None for x in (drift_metrics, predictions, quality, ab)):
        raise ValueError(
            "render_report: expected at least one of drift_metrics, predictions, quality, ab"
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    figures: dict[str, Any] = {}
    if drift_metrics is not None:
        present = set(drift_metrics.get("granularity", pd.Series(dtype=str)).dropna())
        figures["drift_heatmap"] = plots.drift_heatmap(
            drift_metrics, drift_statistic, threshold=drift_threshold,
            granularity=granularity if granularity in present else None,
        )  # fmt: skip
    if predictions is not None:
        figures["score_distribution"] = plots.score_distribution(
            predictions, granularity=granularity
        )
    if quality is not None:
        figures["quality_over_time"] = plots.quality_over_time(quality, granularity=granularity)
    if ab is not None and not ab.comparisons.empty:
        figures["ab_differences"] = plots.ab_differences(ab.comparisons)
    files = ReportFiles(out / "report.html")
    for name, fig in figures.items():
        path = out / f"{name}.png"
        fig.savefig(path, dpi=110)
        files.images[name] = path
    sections = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p>Written {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.</p>",
    ]
    if ab is not None:
        sections += _ab_section(ab)
        files.metrics.update(_ab_metrics(ab))
    if quality is not None:
        shown = [
            c
            for c in (
                "window_start",
                "model_version",
                "count",
                "label_coverage",
                "realized_roc_auc",
                "estimated_roc_auc",
                "realized_churn_rate",
                "estimated_churn_rate",
            )
            if c in quality
        ]
        sections += [
            "<h2>Quality and label-free estimates</h2>",
            _table(quality[shown]),
            f"<p>{html.escape(str(quality['reason'].iloc[0]))}</p>"
            if "reason" in quality and len(quality)
            else "",
        ]
    for name, path in files.images.items():
        data = base64.b64encode(path.read_bytes()).decode()
        sections += [
            f"<h2>{name.replace('_', ' ')}</h2>",
            f'<img alt="{name}" src="data:image/png;base64,{data}">',
        ]
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
        f"</title><style>{_STYLE}</style></head><body>{''.join(sections)}</body></html>"
    )
    tmp = files.html.with_suffix(".html.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(files.html)  # whole or not at all
    return files


def _ab_section(ab: Any) -> list[str]:
    srm = ab.srm
    parts = [
        "<h2>A/B test</h2>",
        f'<p class="verdict {html.escape(ab.verdict)}"><b>{html.escape(ab.verdict)}</b>: '
        f"{html.escape(ab.reason)}</p>",
        f"<p>Sample ratio: customers {html.escape(str(srm['counts']))} against split "
        f"{html.escape(str(srm['expected']))}: chi2={srm['chi2']:.2f}, p={srm['p_value']:.3g}"
        f"{' <b>(alarm)</b>' if srm['alarm'] else ''}. "
        f"{'Paired (shadow scoring).' if ab.paired else 'Unpaired (split traffic).'}</p>",
        _table(ab.versions),
    ]
    if not ab.comparisons.empty:
        parts.append(_table(ab.comparisons))
    return parts


def _ab_metrics(ab: Any) -> dict[str, float]:
    out = {"ab/srm_p_value": float(ab.srm["p_value"])}
    for _, row in ab.comparisons.iterrows():
        out[f"ab/{row['metric']}_difference"] = float(row["difference"])
        out[f"ab/{row['metric']}_ci_low"] = float(row["ci_low"])
        out[f"ab/{row['metric']}_ci_high"] = float(row["ci_high"])
    if ab.labels_needed is not None:
        out["ab/labels_needed"] = float(ab.labels_needed)
    return {k: v for k, v in out.items() if not math.isnan(v)}


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, float_format=lambda v: f"{v:.4g}", na_rep="-", border=0)


def log_report(
    files: ReportFiles, *, run_id: str | None = None, artifact_path: str = "monitoring"
) -> str:
    """Log the report's files and headline metrics to MLflow; returns the run id.

    Args:
        files: what `render_report` wrote.
        run_id: log into this run; default the active run, or a new one named `monitoring`.
        artifact_path: the folder within the run's artifacts.
    """
    import mlflow

    active = mlflow.active_run()
    if active is not None and run_id in (None, active.info.run_id):
        _log_files(files, artifact_path)
        return active.info.run_id
    with mlflow.start_run(
        run_id=run_id, run_name=None if run_id else "monitoring", nested=active is not None
    ) as run:
        _log_files(files, artifact_path)
        return run.info.run_id


def _log_files(files: ReportFiles, artifact_path: str) -> None:
    import mlflow

    mlflow.log_artifact(str(files.html), artifact_path)
    for path in files.images.values():
        mlflow.log_artifact(str(path), artifact_path)
    if files.metrics:
        mlflow.log_metrics(files.metrics)
