"""`scripts/benchmark report`: gather the four figures churnops is judged on from the benchmarks'
results JSON into `docs/results/METRICS.md`, with plots, each figure naming the file it came from.

It measures nothing itself: every number on the page is a field of a results file (or a cost-model
rate printed with its source), so a page never quotes a figure no benchmark wrote.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from churnops.benchmarks.report import RESULTS_DIR, markdown_table

PAGE = "METRICS.md"
PLOTS_DIR = "metrics"  # PNGs beside the page, under docs/results/metrics/
NOT_MEASURED = "not measured yet"
NOT_RECORDED = "not recorded"

# Files the page reads, with the benchmark that writes each. Missing files become
# "not measured yet" rows, so the page can be regenerated before every benchmark exists.
SOURCES: dict[str, str] = {
    "baselines.json": "scripts/benchmark baselines",
    "gpu_check.json": "scripts/gpu-check",
    "tuning.json": "scripts/benchmark tuning",
    "serving.json": "scripts/benchmark serving",
    "features.json": "scripts/benchmark features",
    "feature_store.json": "scripts/benchmark feature_store",
    "monitoring.json": "scripts/benchmark monitoring",
    "pipeline.json": "scripts/benchmark pipeline",
}


class MetricsReportError(ValueError):
    """A results file that cannot be read as the page expects (names the file, row and field)."""


@dataclass(frozen=True)
class Rate:
    """One price in the cost model, with the public page it was read from and that page's date."""

    name: str
    usd: float | None  # None: no cited figure, so the costs that need it are not computed
    unit: str
    source: str
    as_of: str


# The 2-core x86 machine here is priced as the 2-vCPU general-purpose instance below (its
# memory is smaller, 8 GiB, and it is Graviton/arm64: a price yardstick, not a twin).
EC2_CPU = Rate(
    "AWS EC2 m7g.large on-demand, us-east-1, Linux (2 vCPU, 8 GiB)",
    0.0816,
    "USD per instance-hour",
    "https://www.factualminds.com/blog/amazon-ec2-on-demand-pricing-instance-families-2026/"
    " (third-party transcription of https://aws.amazon.com/ec2/pricing/on-demand/)",
    "2026-06-17",
)
DBU_JOBS = Rate(
    "Databricks Jobs Compute (classic), AWS, Premium tier",
    0.15,
    "USD per DBU",
    "https://databrickspricing.pages.dev/dbu-pricing-explained (independent guide; the authority"
    " is https://www.databricks.com/product/pricing)",
    "2026-04",
)
DBU_PER_HOUR_CPU = Rate(
    "DBU per hour of the node above on a Databricks jobs cluster",
    None,
    "DBU per instance-hour",
    "not found in a public page we could cite (Databricks lists it per instance type in its"
    " pricing calculator)",
    "-",
)
GPU_RATE = Rate(
    "an NVIDIA H200 instance (where the GPU figures were measured)",
    None,
    "USD per GPU-hour",
    "no cited rate: GPU costs are not computed",
    "-",
)
COST_MODEL = (EC2_CPU, DBU_JOBS, DBU_PER_HOUR_CPU, GPU_RATE)


def fmt(value: Any) -> str:
    """A figure as the page prints it: 4 significant digits, thousands separators, '-' for none."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != 0 and abs(value) < 1e-3:
            return f"{value:.3g}"
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def ec2_cost(seconds: float) -> float | None:
    """USD for `seconds` of one EC2_CPU instance, billed per second (no start-up, no minimum)."""
    return None if EC2_CPU.usd is None else seconds / 3600 * EC2_CPU.usd


def databricks_cost(seconds: float) -> float | None:
    """USD of DBUs for `seconds` of one node; None while the node's DBU/hour has no source."""
    if DBU_PER_HOUR_CPU.usd is None or DBU_JOBS.usd is None:
        return None
    return seconds / 3600 * DBU_PER_HOUR_CPU.usd * DBU_JOBS.usd


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """A Markdown table with every cell printed by `fmt` (the form the page check expects)."""
    return markdown_table([{c: fmt(r.get(c)) for c in columns} for r in rows], columns)


def load_results(results_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """Read every SOURCES file present in `results_dir` as a list of row objects."""
    found: dict[str, list[dict[str, Any]]] = {}
    for name in SOURCES:
        path = results_dir / name
        if not path.exists():
            continue
        try:
            rows = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise MetricsReportError(f"{path}: not valid JSON ({exc})") from exc
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise MetricsReportError(
                f"{path}: expected a list of row objects, got {type(rows).__name__}"
            )
        found[name] = rows
    return found


def field(rows: list[dict[str, Any]], file: str, i: int, key: str, kind: type = float) -> Any:
    """rows[i][key], refusing a missing or mistyped value with the file, row and field named."""
    row = rows[i]
    if key not in row:
        raise MetricsReportError(f"{file} row {i}: missing field {key!r} (has {sorted(row)})")
    value = row[key]
    ok = (
        isinstance(value, (int, float)) and not isinstance(value, bool)
        if kind is float
        else (isinstance(value, kind))
    )
    if value is not None and not ok:
        raise MetricsReportError(
            f"{file} row {i}: field {key!r} = {value!r}, expected {kind.__name__}"
        )
    return value


def load_notes(page: Path) -> list[str]:
    """The lines of a benchmark's own .md page that state the load average it ran under."""
    if not page.exists():
        return []
    return [
        line.removeprefix("- ").strip()
        for line in page.read_text().splitlines()
        if "load average" in line.lower()
    ]


def load_text(rows: list[dict[str, Any]], page: Path) -> str:
    """The load the benchmark recorded: its `load*` JSON fields, else its page's load note."""
    keys = sorted({k for r in rows for k in r if k.startswith("load")})
    if keys:
        return "; ".join(f"{k} {fmt(rows[0].get(k))}" for k in keys)
    notes = load_notes(page)
    if notes:
        return f"{page.name}: " + "; ".join(notes)
    return NOT_RECORDED


def sources_table(results: dict[str, list[dict[str, Any]]], results_dir: Path) -> str:
    """One row per results file: the benchmark that writes it, machine, date, load, rows."""
    rows: list[dict[str, Any]] = []
    for name, bench in SOURCES.items():
        if name not in results:
            rows.append({"file": name, "benchmark": f"`{bench}`", "machine": NOT_MEASURED})
            continue
        data = results[name]
        rows.append(
            {
                "file": f"[{name}]({name.removesuffix('.json')}.md)",
                "benchmark": f"`{bench}`",
                "machine": "; ".join(sorted({str(r.get("machine", "-")) for r in data})),
                "date": "; ".join(sorted({str(r.get("date", "-")) for r in data})),
                "load": load_text(data, results_dir / name.replace(".json", ".md")),
                "rows": len(data),
            }
        )
    return table(rows, ["file", "benchmark", "machine", "date", "load", "rows"])


def training_rows(results: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Fit or search seconds per model family and launcher, with their cost where it has a rate."""
    out: list[dict[str, Any]] = []
    if "baselines.json" in results:
        rows = results["baselines.json"]
        for i, r in enumerate(rows):
            seconds = field(rows, "baselines.json", i, "fit_seconds")
            out.append(
                {
                    "dataset": r.get("dataset", "-"),
                    "model": field(rows, "baselines.json", i, "model", str),
                    "launcher": "local (in-process)",
                    "device": "cpu",
                    "what": "fit",
                    "seconds": seconds,
                    "ec2_usd": ec2_cost(seconds),
                    "databricks_usd": databricks_cost(seconds),
                    "source": f"baselines.json[{i}]",
                }
            )
    else:
        out.append(
            {
                "model": "all families",
                "launcher": "local (in-process)",
                "device": "cpu",
                "what": NOT_MEASURED,
            }
        )
    if "tuning.json" in results:
        rows = results["tuning.json"]
        for i in range(len(rows)):
            seconds = field(rows, "tuning.json", i, "seconds")
            out.append(
                {
                    "dataset": "cdnow",
                    "model": "random_forest",
                    "launcher": field(rows, "tuning.json", i, "backend", str),
                    "device": "cpu",
                    "what": f"{fmt(field(rows, 'tuning.json', i, 'trials', int))} trials",
                    "seconds": seconds,
                    "ec2_usd": ec2_cost(seconds),
                    "databricks_usd": databricks_cost(seconds),
                    "source": f"tuning.json[{i}]",
                }
            )
    if "gpu_check.json" in results:
        rows = results["gpu_check.json"]
        for i, r in enumerate(rows):
            step = field(rows, "gpu_check.json", i, "step", str)
            if step.startswith("net"):
                model = "mlp"
            elif step.startswith("xgboost"):
                model = "xgboost"
            else:
                continue  # the loaders benchmark is a throughput figure, not a training run
            ok = str(r.get("status", "")).startswith("ok")
            out.append(
                {
                    "dataset": "cdnow",
                    "model": model,
                    "launcher": r.get("launcher", "-"),
                    "device": r.get("device", "gpu"),
                    "what": "fit" if ok else r.get("status"),
                    "seconds": field(rows, "gpu_check.json", i, "seconds") if ok else None,
                    "ec2_usd": None,
                    "databricks_usd": None,
                    "source": f"gpu_check.json[{i}]",
                }
            )
    # Launchers no CPU benchmark times yet: said, not left out.
    for launcher in ("torch_distributor", "ray"):
        out.append(
            {
                "dataset": "cdnow",
                "model": "mlp",
                "launcher": launcher,
                "device": "cpu",
                "what": NOT_MEASURED,
            }
        )
    return out


def serving_model(row: dict[str, Any]) -> str:
    for key in ("model_family", "model"):
        if row.get(key):
            return str(row[key])
    return f"{NOT_RECORDED} (see note)"


def latency_rows(results: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """p50/p95/p99 per served model family and case, online; batch scoring when measured."""
    out: list[dict[str, Any]] = []
    if "serving.json" in results:
        rows = results["serving.json"]
        for i, r in enumerate(rows):
            out.append(
                {
                    "model": serving_model(r),
                    "server": field(rows, "serving.json", i, "server", str),
                    "mode": "online",
                    "case": field(rows, "serving.json", i, "case", str),
                    "rps": field(rows, "serving.json", i, "rps"),
                    "p50_ms": field(rows, "serving.json", i, "p50_ms"),
                    "p95_ms": field(rows, "serving.json", i, "p95_ms"),
                    "p99_ms": field(rows, "serving.json", i, "p99_ms"),
                    "errors": r.get("errors"),
                    "source": f"serving.json[{i}]",
                }
            )
    else:
        out.append({"model": "-", "server": "churnops", "mode": "online", "case": NOT_MEASURED})
    out.append({"model": "-", "server": "score_batch", "mode": "batch", "case": NOT_MEASURED})
    return out


def quality_rows(results: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Hold-out metrics per dataset and model, the CV spread, calibration and churn rate."""
    if "baselines.json" not in results:
        return [{"dataset": "-", "model": NOT_MEASURED}]
    rows = results["baselines.json"]
    out = []
    for i, r in enumerate(rows):
        mean = field(rows, "baselines.json", i, "roc_auc_cv_mean")
        std = field(rows, "baselines.json", i, "roc_auc_cv_std")
        calibration = next(
            (k for k in ("ece", "ece_cv", "calibration_error") if k in r), None
        )  # the hold-out's, else the CV folds' mean
        brier = next((k for k in ("brier", "brier_cv") if k in r), None)
        out.append(
            {
                "dataset": r.get("dataset", "-"),
                "model": field(rows, "baselines.json", i, "model", str),
                "roc_auc": field(rows, "baselines.json", i, "roc_auc"),
                "roc_auc_cv": f"{fmt(mean)} ± {fmt(std)}",
                "pr_auc": fmt(r["pr_auc"]) if "pr_auc" in r else NOT_RECORDED,
                "log_loss": field(rows, "baselines.json", i, "log_loss"),
                "brier": fmt(r[brier]) if brier else NOT_RECORDED,
                "calibration_error": fmt(r[calibration]) if calibration else NOT_RECORDED,
                "churn_rate": fmt(r["churn_rate"]) if "churn_rate" in r else NOT_RECORDED,
                "source": f"baselines.json[{i}]",
            }
        )
    return out


def feature_rows(results: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Feature computation on both engines, point-in-time joins and merges, monitoring refresh."""
    out: list[dict[str, Any]] = []
    if "features.json" in results:
        rows = results["features.json"]
        for i, r in enumerate(rows):
            out.append(
                {
                    "stage": "features (as of a cutoff)",
                    "case": field(rows, "features.json", i, "case", str),
                    "rows": field(rows, "features.json", i, "orders", int),
                    "seconds": field(rows, "features.json", i, "seconds"),
                    "rows_per_s": r.get("orders_per_s"),
                    "source": f"features.json[{i}]",
                }
            )
    else:
        out.append({"stage": "features (as of a cutoff)", "case": NOT_MEASURED})
    if "feature_store.json" in results:
        rows = results["feature_store.json"]
        for i, r in enumerate(rows):
            case = field(rows, "feature_store.json", i, "case", str)
            if r.get("seconds") is None:
                continue  # online lookups are latencies; they are in the feature store page
            out.append(
                {
                    "stage": "point-in-time join" if case.startswith("pit") else "Delta merge",
                    "case": case,
                    "rows": field(rows, "feature_store.json", i, "rows", int),
                    "seconds": field(rows, "feature_store.json", i, "seconds"),
                    "source": f"feature_store.json[{i}]",
                }
            )
    for name, stage in (("monitoring.json", "monitoring refresh"), ("pipeline.json", "pipeline")):
        if name not in results:
            out.append({"stage": stage, "case": NOT_MEASURED})
            continue
        rows = results[name]
        for i, r in enumerate(rows):
            seconds_key = next((k for k in r if k.endswith("seconds")), None)
            out.append(
                {
                    "stage": stage,
                    # monitoring rows are named by engine and case, pipeline rows by task
                    "case": " ".join(str(r[k]) for k in ("engine", "case", "task") if k in r)
                    or "-",
                    "rows": r.get("rows"),
                    "seconds": r.get(seconds_key) if seconds_key else None,
                    "source": f"{name}[{i}]",
                }
            )
    return out


def write_plots(results: dict[str, list[dict[str, Any]]], out_dir: Path) -> dict[str, Path]:
    """Bar charts where a picture reads faster than the table; returns name -> PNG path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    made: dict[str, Path] = {}

    def save(name: str, draw: Callable[[Any], None]) -> None:
        fig, ax = plt.subplots(figsize=(7, 3.6), dpi=100)
        draw(ax)
        fig.tight_layout()
        path = out_dir / f"{name}.png"
        fig.savefig(path, metadata={"Software": None})
        plt.close(fig)
        made[name] = path

    if "baselines.json" in results:
        rows = results["baselines.json"]

        def quality(ax: Any) -> None:
            names = [f"{r['model']}\n{r.get('dataset', '')}" for r in rows]
            ax.bar(
                names,
                [r["roc_auc_cv_mean"] for r in rows],
                yerr=[r["roc_auc_cv_std"] for r in rows],
                capsize=4,
                color="#7aa6d8",
            )
            ax.scatter(
                names,
                [r["roc_auc"] for r in rows],
                color="#c03030",
                zorder=3,
                label="hold-out ROC AUC",
            )
            low = min(r["roc_auc_cv_mean"] - r["roc_auc_cv_std"] for r in rows)
            high = max(max(r["roc_auc"], r["roc_auc_cv_mean"] + r["roc_auc_cv_std"]) for r in rows)
            ax.set_ylim(low - 0.005, high + 0.005)
            ax.tick_params(axis="x", labelsize=6, labelrotation=90)
            ax.set_ylabel("ROC AUC (CV mean ± std)")
            ax.legend(loc="lower right")
            ax.set_title("Model quality per dataset (baselines.json)")

        save("model_quality", quality)

    if "serving.json" in results:
        rows = results["serving.json"]

        def latency(ax: Any) -> None:
            labels = [f"{r['server']}\n{r['case']}" for r in rows]
            x = range(len(rows))
            for k, (pct, color) in enumerate(
                (("p50_ms", "#7cbf8a"), ("p95_ms", "#e0b050"), ("p99_ms", "#d8808c"))
            ):
                ax.bar(
                    [i + (k - 1) * 0.27 for i in x],
                    [r[pct] for r in rows],
                    0.27,
                    label=pct,
                    color=color,
                )
            ax.set_xticks(list(x), labels, fontsize=7)
            ax.set_yscale("log")
            ax.set_ylabel("latency, ms (log scale)")
            ax.legend(fontsize=8)
            ax.set_title("Online inference latency (serving.json)")

        save("inference_latency", latency)

    if "features.json" in results:
        rows = results["features.json"]

        def features(ax: Any) -> None:
            ax.barh([r["case"] for r in rows], [r["seconds"] for r in rows], color="#a58ad8")
            ax.set_xlabel("seconds")
            ax.set_title("Features as of a cutoff (features.json)")

        save("feature_computation", features)
    return made


def render(
    results: dict[str, list[dict[str, Any]]],
    plots: dict[str, Path],
    page: Path,
    results_dir: Path,
) -> str:
    """The METRICS.md text."""

    def img(name: str) -> list[str]:
        if name not in plots:
            return []
        rel = os.path.relpath(plots[name], page.parent)
        return ["", f"![{name}]({rel})"]

    rates = table(
        [
            {
                "rate": r.name,
                "value": r.usd if r.usd is not None else NOT_RECORDED,
                "unit": r.unit,
                "source": r.source,
                "as of": r.as_of,
            }
            for r in COST_MODEL
        ],
        ["rate", "value", "unit", "source", "as of"],
    )
    serving_note = (
        "- `model`: serving.json does not record the served model. "
        "`churnops/benchmarks/serving.py` registers the same scikit-learn pipeline family "
        "(SimpleImputer, StandardScaler, LogisticRegression) as the champion and the challenger "
        "versions and serves both through the verified numpy kernel."
        if any(serving_model(r).startswith(NOT_RECORDED) for r in results.get("serving.json", []))
        else ""
    )
    lines = [
        "# Metrics: the four figures churnops is judged on",
        "",
        "Generated by `scripts/benchmark report` from the benchmarks' results files in this "
        "folder; do not edit by hand. Every number on this page is a field of one of those "
        "files, named in the `source` column as `file[row]`, or a cost-model rate printed with "
        "its source; `tests/benchmarks/test_metrics_report.py` checks it. A file that no "
        "benchmark has written yet shows as *not measured yet*.",
        "",
        "## Where and when each source ran",
        "",
        sources_table(results, results_dir),
        "",
        "Most CPU figures come from the shared development machine while other jobs ran on it. "
        "`load` is the benchmark's `load*` JSON field, else the load note of its own `.md` page, "
        "else *not recorded*: those runs did not measure the load they ran under. Compare "
        "figures only between runs on the same machine under a similar load.",
        "",
        "## Training time and cost",
        "",
        "Cost model: one run's seconds billed per second at the rates below, without cluster "
        "start-up or a billing minimum, so it is a floor. `ec2_usd` = seconds in hours x the EC2 "
        "rate; `databricks_usd` adds the DBUs of the same node and stays empty until the node's "
        "DBU/hour has a source. The rates are list prices read from the pages named, on the "
        "dates given; check them before quoting a cost. (`cost_usd` in baselines.json used an "
        "unsourced hourly price and is not used here.)",
        "",
        rates,
        "",
        table(
            training_rows(results),
            [
                "dataset",
                "model",
                "launcher",
                "device",
                "what",
                "seconds",
                "ec2_usd",
                "databricks_usd",
                "source",
            ],
        ),
        "",
        "- baselines: `seconds` is the final fit of each family on the CPU, after its CV folds "
        "(see baselines.md). tuning: the search alone (see tuning.md). GPU rows: the net in "
        "bf16 and XGBoost on CUDA on the GPU in their `device` column (see gpu_check.md); a "
        "skipped launcher keeps its reason.",
        "",
        "## Inference latency",
        "",
        table(
            latency_rows(results),
            [
                "model",
                "server",
                "mode",
                "case",
                "rps",
                "p50_ms",
                "p95_ms",
                "p99_ms",
                "errors",
                "source",
            ],
        ),
        *img("inference_latency"),
        "",
        "- Online: one uvicorn process, the load generator on the same machine, requests "
        "carrying only `customer_id` (SQLite online lookup), bearer auth and "
        "the Delta inference log on (see serving.md). `mlflow` rows are `mlflow models serve` "
        "on the same model, the baseline.",
        *([serving_note] if serving_note else []),
        "- Batch: `score_batch` has no benchmark yet.",
        "",
        "## Model quality",
        "",
        table(
            quality_rows(results),
            [
                "dataset",
                "model",
                "roc_auc",
                "roc_auc_cv",
                "pr_auc",
                "log_loss",
                "brier",
                "calibration_error",
                "churn_rate",
                "source",
            ],
        ),
        *img("model_quality"),
        "",
        "- `roc_auc`, `pr_auc`, `log_loss`, `brier`: the hold-out split; `roc_auc_cv`: the CV "
        "mean ± std on the training split (see baselines.md). PR AUC is measured with churn as the "
        "positive class, so it must be read against the churn rate (the share of churners in "
        "the dataset); `calibration_error` is the hold-out's expected calibration error.",
        "",
        "## Feature computation and monitoring refresh",
        "",
        table(feature_rows(results), ["stage", "case", "rows", "seconds", "rows_per_s", "source"]),
        *img("feature_computation"),
        "",
        "- features: the churn features of every customer as of one cutoff from synthetic "
        "orders; `duckdb-sql` is the hand-written query, `duckdb` and `spark` the two engines "
        "running the one PySpark-API definition (see features.md). Point-in-time join and "
        "merge: see feature_store.md.",
        "",
        "## What was not run here",
        "",
        "- No Databricks workspace: no DBU was spent, and no figure on this page was measured "
        "on Databricks; the Databricks cost column is a model.",
        "- GPU figures come from one NVIDIA H200 machine (gpu_check.json); no GPU cluster, and "
        "TorchDistributor was skipped there.",
    ]
    return "\n".join(lines) + "\n"


def write_report(results_dir: Path | None = None, page: Path | None = None) -> Path:
    """Read the results in `results_dir`, write the plots and the page; return the page path."""
    results_dir = Path(results_dir or RESULTS_DIR)
    page = Path(page or results_dir / PAGE)
    results = load_results(results_dir)  # reads and checks everything before writing anything
    render(results, {}, page, results_dir)  # a bad field fails here, before any file is touched
    plots = write_plots(results, page.parent / PLOTS_DIR)
    text = render(results, plots, page, results_dir)
    tmp = page.with_suffix(".md.tmp")
    tmp.write_text(text)
    tmp.replace(page)  # readers never see half a page
    return page


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/benchmark report", description=__doc__)
    parser.add_argument("--results-dir", help="where the results JSON are (default docs/results)")
    parser.add_argument("--output", help="the page to write (default RESULTS_DIR/METRICS.md)")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    page = write_report(
        Path(args.results_dir) if args.results_dir else None,
        Path(args.output) if args.output else None,
    )
    results = load_results(Path(args.results_dir) if args.results_dir else RESULTS_DIR)
    missing = [n for n in SOURCES if n not in results]
    print(f"read {', '.join(sorted(results))}")
    if missing:
        print(f"not measured yet: {', '.join(missing)}")
    print(f"wrote {page}")
    return 0
