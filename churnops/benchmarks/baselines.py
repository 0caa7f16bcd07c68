"""`scripts/benchmark baselines`: the net against RandomForest, logistic regression, XGBoost and
the recency-only score, on several datasets, each under its stated protocol.

Datasets: CDNOW at a cutoff and horizon (`cdnow@YYYY-MM-DD/180`: features as of the cutoff,
churn = no order in the horizon), the generated telecom-like customer table (`telecom`: string
categories, a Yes/No label, blanks), or the training set a config names (`data.path`). On each, a
stratified 80/20 split with a fixed seed; k-fold stratified CV on the 80% gives ROC AUC (mean and
spread), log loss, Brier and expected calibration error; each model is then fitted on the whole
80% and scored once on the 20%. Cost = fit seconds x price.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from churnops.benchmarks.report import kept_rows, results_lock, write_results
from churnops.data.datasets import cdnow_cutoff

# Cheapest first within a dataset, the tuned (searched) rows last: results are written after
# every row, so a run cut short still shows the comparisons that finished.
MODELS = (
    "mlp",
    "random_forest",
    "logistic_regression",
    "xgboost",
    "recency",
    "xgboost_tuned",
    "mlp_tuned",
)
TUNED = ("mlp_tuned", "xgboost_tuned")  # searched on the fit rows alone: nested inside the CV
DATASETS = (
    "public:telco",
    "public:phone-plan",
    "telecom",
    f"cdnow@{cdnow_cutoff()}/180",  # the protocol cutoff (configs/data/cdnow.yaml)
    "cdnow@1997-12-31/180",
    "cdnow@1997-06-30/90",
)
TELECOM_CUSTOMERS = 5000
COLUMNS = [
    "dataset",
    "protocol",
    "model",
    "roc_auc_cv_mean",
    "roc_auc_cv_std",
    "log_loss_cv",
    "brier_cv",
    "ece_cv",
    "roc_auc",
    "pr_auc",
    "log_loss",
    "brier",
    "ece",
    "churn_rate",
    "fit_seconds",
    "cost_usd",
]


@dataclass
class Dataset:
    """A training set to benchmark on: its file, the config overrides it needs, its protocol."""

    name: str
    path: Path
    protocol: str
    overrides: list[str]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/benchmark baselines", description=__doc__)
    parser.add_argument("--config", help="train config YAML (default configs/train.yaml)")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated families")
    parser.add_argument(
        "--datasets",
        default=",".join(DATASETS),
        help="comma-separated: SOURCE@CUTOFF/HORIZON_DAYS (an orders source, e.g. "
        "cdnow@YYYY-MM-DD/180), telecom; ignored when the config sets data.path",
    )
    parser.add_argument("--source", default="cdnow", help="orders source kind for SOURCE@...")
    parser.add_argument("--path", help="orders file or folder for csv | parquet | delta")
    parser.add_argument("--price-per-hour", type=float, default=0.10,
                        help="USD per machine-hour for the cost column")  # fmt: skip
    parser.add_argument("--workdir", default=".churnops/benchmarks/baselines")
    parser.add_argument("--results-dir", help="where baselines.json/.md go (default docs/results)")
    parser.add_argument("--append", action="store_true",
                        help="keep earlier rows of datasets and models not run now")  # fmt: skip
    parser.add_argument("overrides", nargs="*", help="train config overrides, e.g. seed=7")
    return parser.parse_args(argv)


def run_baselines(
    cfg: Any,
    models: list[str],
    price_per_hour: float,
    dataset: Dataset,
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """One row per model family: CV and hold-out metrics, fit time and cost; `on_row` is
    called with each row as soon as it is done."""
    from churnops.trainers.data import load_training_arrays
    from churnops.trainers.evaluation import binary_metrics
    from churnops.trainers.splits import cv_folds, split_train_test
    from churnops.trainers.training_set import prepare_training_data

    prepared = prepare_training_data(cfg)  # the one reading train does (columns typed)
    cfg = prepared.cfg
    data = load_training_arrays(
        prepared.path, cfg.features.names, cfg.data.label_column, cfg.data.id_column
    )
    train_idx, test_idx = split_train_test(data.y, cfg.data.test_size, cfg.seed)
    x, y = data.x[train_idx], data.y[train_idx]
    rows = []
    for name in models:
        if name == "recency" and cfg.features.recency_column not in cfg.features.names:
            continue  # a customer table has no days-since-last-order column
        cv = []
        for fit_idx, held_idx in cv_folds(y, cfg.data.cv_folds, cfg.seed):
            model = benchmark_model(cfg, name).fit(x[fit_idx], y[fit_idx])
            cv.append(binary_metrics(y[held_idx], model.predict_proba(x[held_idx])[:, 1]))
        start = time.perf_counter()
        model = benchmark_model(cfg, name).fit(x, y)
        fit_seconds = time.perf_counter() - start
        test = binary_metrics(data.y[test_idx], model.predict_proba(data.x[test_idx])[:, 1])
        aucs = np.array([m["auroc"] for m in cv])
        rows.append(
            {
                "dataset": dataset.name,
                "protocol": dataset.protocol,
                "model": name,
                "roc_auc_cv_mean": round(float(aucs.mean()), 4),
                "roc_auc_cv_std": round(float(aucs.std(ddof=1)), 4),
                **{
                    f"{k}_cv": round(float(np.mean([m[k] for m in cv])), 4)
                    for k in ("log_loss", "brier", "ece")
                },
                "roc_auc": round(test["auroc"], 4),
                "pr_auc": round(test["pr_auc"], 4),
                "log_loss": round(test["log_loss"], 4),
                "brier": round(test["brier"], 4),
                "ece": round(test["ece"], 4),
                "churn_rate": round(float(data.y.mean()), 4),  # PR AUC's floor
                "fit_seconds": round(fit_seconds, 2),
                "cost_usd": round(fit_seconds * price_per_hour / 3600, 6),
            }
        )
        if on_row is not None:
            on_row(rows[-1])
    return rows


def benchmark_model(cfg: Any, name: str) -> Any:
    """An unfitted model of family `name` (`MODELS`) for config `cfg`."""
    from churnops.trainers.estimators import build_model, table_encoder

    if name == "xgboost_tuned":
        from churnops.models.tuned_xgboost import TunedXGBoostChurnModel

        xgb = cfg.model.xgboost
        return TunedXGBoostChurnModel(
            table_encoder(cfg), seed=cfg.seed, n_jobs=xgb.n_jobs, device=xgb.device
        )
    if name == "mlp_tuned":
        from churnops.trainers.tuned_net import TunedNetChurnModel

        return TunedNetChurnModel(cfg)
    return build_model(
        cfg.model_copy(update={"model": cfg.model.model_copy(update={"name": name})})
    )


def verdict(rows: list[dict[str, Any]]) -> str | None:
    """The model targets on one dataset, each met or MISSED with its figures:
    the default net's CV ROC AUC at least the best untuned baseline's; the tuned net's at least
    tuned XGBoost's - 0.005; the net's CV log loss at most the best baseline's + 0.005."""
    by_model = {r["model"]: r for r in rows}
    net = by_model.get("mlp")
    untuned = [r for r in rows if not r["model"].startswith("mlp") and r["model"] not in TUNED]
    baselines = [r for r in rows if not r["model"].startswith("mlp")]
    if net is None or not untuned:
        return None

    def met(ok: bool) -> str:
        return "met" if ok else "MISSED"

    best_auc = max(untuned, key=lambda r: r["roc_auc_cv_mean"])
    best_loss = min(baselines, key=lambda r: r["log_loss_cv"])
    auc_ok = net["roc_auc_cv_mean"] >= best_auc["roc_auc_cv_mean"]
    loss_ok = net["log_loss_cv"] <= best_loss["log_loss_cv"] + 0.005
    parts = [
        f"{net['dataset']}: ROC AUC target {met(auc_ok)} (mlp {net['roc_auc_cv_mean']:.4f} vs "
        f"{best_auc['model']} {best_auc['roc_auc_cv_mean']:.4f})",
    ]
    tuned_net, tuned_xgb = by_model.get("mlp_tuned"), by_model.get("xgboost_tuned")
    if tuned_net and tuned_xgb:
        tuned_ok = tuned_net["roc_auc_cv_mean"] >= tuned_xgb["roc_auc_cv_mean"] - 0.005
        parts.append(
            f"tuned target {met(tuned_ok)} (mlp_tuned {tuned_net['roc_auc_cv_mean']:.4f} vs "
            f"xgboost_tuned {tuned_xgb['roc_auc_cv_mean']:.4f} - 0.005)"
        )
    parts.append(
        f"log loss target {met(loss_ok)} (mlp {net['log_loss_cv']:.4f} vs {best_loss['model']} "
        f"{best_loss['log_loss_cv']:.4f} + 0.005)"
    )
    xgb = by_model.get("xgboost")
    if xgb:
        parts.append(f"CPU fit seconds: mlp {net['fit_seconds']}, xgboost {xgb['fit_seconds']}")
    return "; ".join(parts)


def resolve_datasets(args: argparse.Namespace, cfg: Any) -> list[Dataset]:
    """The training sets to run on, built under the workdir when they are not there yet."""
    if cfg.data.path:
        return [Dataset(cfg.data.name, Path(cfg.data.path), "the training set data.path names", [])]
    workdir = Path(cfg.workdir)
    out = []
    for spec in (s.strip() for s in args.datasets.split(",") if s.strip()):
        if spec == "telecom":
            out.append(telecom_dataset(workdir, cfg.seed))
            continue
        if spec.startswith("public:"):
            out.append(public_dataset(workdir, spec.removeprefix("public:")))
            continue
        source_name, at, rest = spec.partition("@")
        cutoff_text, slash, horizon_text = rest.partition("/")
        try:
            cutoff, horizon = date.fromisoformat(cutoff_text), int(horizon_text)
        except ValueError:
            raise SystemExit(
                f"--datasets: {spec!r} is not SOURCE@YYYY-MM-DD/HORIZON_DAYS or telecom"
            ) from None
        if not (at and slash):
            raise SystemExit(f"--datasets: {spec!r} is not SOURCE@YYYY-MM-DD/HORIZON_DAYS")
        out.append(orders_dataset(args, workdir, source_name, cutoff, horizon))
    return out


def orders_dataset(
    args: argparse.Namespace, workdir: Path, name: str, cutoff: date, horizon: int
) -> Dataset:
    """Features as of `cutoff` and churn over `horizon` days from the configured orders source."""
    from churnops.data.sources import SourceConfig
    from churnops.trainers.config import DataConfig
    from churnops.trainers.training_set import ensure_training_set

    source = SourceConfig(kind=args.source, **({"path": args.path} if args.path else {}))
    data = DataConfig(name=name, source=source, as_of=cutoff, horizon_days=horizon)
    path = ensure_training_set(workdir, data)  # through the feature store, as train builds it
    return Dataset(
        f"{name} {cutoff}/{horizon}d",
        path,
        f"{name} orders: features as of {cutoff}, churn = no order in the next {horizon} days",
        [],
    )


def telecom_dataset(workdir: Path, seed: int) -> Dataset:
    """The generated telecom-like customer table, read as a customer CSV."""
    from churnops.data.sources.telecom import CATEGORICAL, generate_customer_table

    path = workdir / f"telecom-{TELECOM_CUSTOMERS}-seed{seed}.csv"
    if not path.exists():
        generate_customer_table(path, TELECOM_CUSTOMERS, seed=seed)
    return Dataset(
        "telecom (generated)",
        path,
        f"customer table: {TELECOM_CUSTOMERS:,} generated customers, label Churn (Yes/No), "
        f"{len(CATEGORICAL)} string categories, blank TotalCharges",
        # Its columns are typed as any customer table's (as `churnops features customers`).
        ["data.id_column=customerID", "data.label_column=Churn"],
    )


def public_dataset(workdir: Path, name: str) -> Dataset:
    """A real public churn table shipped inside a registry package, read as a customer CSV."""
    from churnops.data.datasets.public import (
        ID_COLUMN,
        PUBLIC_TABLES,
        feature_columns,
        write_public_table,
    )

    if name not in PUBLIC_TABLES:
        raise SystemExit(f"--datasets: public:{name} unknown; expected public:NAME with NAME in "
                         f"{', '.join(PUBLIC_TABLES)}")  # fmt: skip
    table = PUBLIC_TABLES[name]
    return Dataset(
        f"{name} (public)",
        write_public_table(name, workdir / "public"),
        f"customer table: {table.description}",
        [
            f"features.columns={feature_columns(name)}",
            f"features.categorical={list(table.categorical)}",
            f"data.id_column={ID_COLUMN}",
            f"data.label_column={table.label_column}",
        ],
    )


def protocol_notes(price_per_hour: float) -> list[str]:
    """How the rows were measured, for the results page."""
    from churnops.models.tuned_xgboost import INNER_FOLDS, SEARCH_SPACE
    from churnops.trainers.tuned_net import NET_SEARCH

    return [
        "Protocol: a stratified 80%/20% split with a fixed seed; k-fold stratified CV on the 80% "
        "(roc_auc_cv_*, log_loss_cv, brier_cv, ece_cv: means over the folds); each model then "
        "fitted on the whole 80% and scored once on the 20% (roc_auc, log_loss).",
        "ece: expected calibration error over 10 equal-width bins of P(churn).",
        "mlp: TabularChurnNet (a TabM ensemble over periodic numeric embeddings, with an "
        "additive term; docs/training.md) through Lightning on CPU, 1 process, 1 thread, its "
        "default config (configs/model/mlp.yaml unless overridden); 10% of its fit rows "
        "held out for checkpointing on val/auroc (never inside the one-cycle warm-up) and for "
        "the temperature that calibrates it.",
        f"xgboost_tuned: inside every fit (each CV fold and the final fit), {len(SEARCH_SPACE)} "
        f"fixed candidates (max_depth 2/4/6 x (lr 0.05, 300 trees, min_child_weight 1 | "
        f"lr 0.1, 150 trees, min_child_weight 5), subsample and colsample 0.8) scored by "
        f"{INNER_FOLDS}-fold "
        "inner CV ROC AUC on the fit rows alone, the best refitted on them: a nested CV.",
        f"mlp_tuned: inside every fit, {len(NET_SEARCH)} fixed candidates "
        f"({'; '.join(_describe(c) for c in NET_SEARCH)}) each fitted once; the one with the best "
        "ROC AUC on its validation split (of the fit rows) is kept: a nested CV.",
        f"fit_seconds: wall time of the final fit on the shared machine (CPU). cost_usd = "
        f"fit_seconds x {price_per_hour} USD/hour. Load while running: "
        f"{', '.join(f'{v:.2f}' for v in os.getloadavg())} (1/5/15-min average when written).",
    ]


def _describe(overrides: dict[str, dict[str, Any]]) -> str:
    pairs = [f"{k}={v}" for section in overrides.values() for k, v in section.items()]
    return ", ".join(pairs) or "the defaults"


def main(argv: list[str]) -> int:
    from churnops.trainers.config import load_train_config

    args = parse_args(argv)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise SystemExit(f"--models: unknown {unknown}; expected some of {', '.join(MODELS)}")
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    base = [f"workdir={args.workdir}", "logger=none", "trainer.progress_bar=false"]
    cfg = load_train_config([*base, *args.overrides], path=args.config)
    rows: list[dict[str, Any]] = []
    datasets = resolve_datasets(args, cfg)

    results_dir = Path(args.results_dir) if args.results_dir else None
    if args.append:  # a results file it cannot keep rows from is refused before any fit
        kept_rows("baselines", [], ("dataset", "model"), results_dir)

    def publish(final: bool) -> None:
        with results_lock("baselines", results_dir):  # another --append run may share the page
            write_page(final)

    def write_page(final: bool) -> None:
        page = rows
        if args.append:  # earlier rows first, in their order; a row run now replaces its own
            page = [*kept_rows("baselines", rows, ("dataset", "model"), results_dir), *rows]
            order = {m: i for i, m in enumerate(MODELS)}
            names = list(dict.fromkeys(r["dataset"] for r in page))
            page = sorted(page, key=lambda r: (names.index(r["dataset"]), order[r["model"]]))
        names = list(dict.fromkeys(r["dataset"] for r in page))
        lines = [verdict([r for r in page if r["dataset"] == n]) for n in names]
        notes = [line for line in lines if line]
        if not final:
            notes.append(f"PARTIAL: {len(rows)} rows so far; the run was still going.")
        write_results(
            "baselines",
            page,
            COLUMNS,
            "Baselines: the net vs RandomForest, logistic regression, XGBoost (untuned and "
            "tuned), recency",
            [*notes, *protocol_notes(args.price_per_hour)],
            results_dir=results_dir,
        )

    for dataset in datasets:
        ds_cfg = load_train_config(
            [*base, f"data.path={dataset.path}", *dataset.overrides, *args.overrides],
            path=args.config,
        )
        print(f"{dataset.name}: {dataset.path} (seed {ds_cfg.seed}, "
              f"{ds_cfg.data.cv_folds}-fold CV)", flush=True)  # fmt: skip
        run_baselines(
            ds_cfg, models, args.price_per_hour, dataset,
            on_row=lambda row: (rows.append(row), publish(final=False)),
        )  # fmt: skip
    publish(final=True)
    return 0
