"""`scripts/benchmark baselines`: the net against RandomForest, logistic regression, XGBoost and
the recency-only score, on one training set under one protocol.

Protocol: features as of the cutoff (CDNOW: 1997-09-30, horizon 180 days), a stratified 80/20
split with a fixed seed; 5-fold stratified CV on the 80% gives the ROC AUC mean and std; each
model is then fitted on the whole 80% and scored once on the 20%. Cost = fit seconds x price.
"""

from __future__ import annotations

import argparse
import logging
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from churnops.benchmarks.report import write_results

MODELS = ("mlp", "random_forest", "logistic_regression", "xgboost", "recency")
COLUMNS = [
    "dataset",
    "model",
    "roc_auc",
    "roc_auc_cv_mean",
    "roc_auc_cv_std",
    "pr_auc",
    "log_loss",
    "brier",
    "fit_seconds",
    "cost_usd",
]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/benchmark baselines", description=__doc__)
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated families")
    parser.add_argument("--source", default="cdnow", help="orders source kind (see sources)")
    parser.add_argument("--path", help="orders file or folder for csv | parquet | delta")
    parser.add_argument("--cutoff", default="1997-09-30", help="features as of this day")
    parser.add_argument("--horizon", type=int, default=180, help="churn horizon in days")
    parser.add_argument("--price-per-hour", type=float, default=0.10,
                        help="USD per machine-hour for the cost column")  # fmt: skip
    parser.add_argument("--workdir", default=".churnops/benchmarks/baselines")
    parser.add_argument("--results-dir", help="where NAME.json/.md go (default docs/results)")
    parser.add_argument("overrides", nargs="*", help="train config overrides, e.g. seed=7")
    return parser.parse_args(argv)


def run_baselines(
    cfg: Any, models: list[str], price_per_hour: float, training_set: Path
) -> list[dict[str, Any]]:
    """One row per model family: hold-out test metrics, CV ROC AUC, fit time and cost."""
    from churnops.trainers.data import load_training_arrays
    from churnops.trainers.estimators import build_model
    from churnops.trainers.evaluation import binary_metrics
    from churnops.trainers.splits import cv_folds, split_train_test

    data = load_training_arrays(training_set, cfg.features.columns, cfg.data.label_column)
    train_idx, test_idx = split_train_test(data.y, cfg.data.test_size, cfg.seed)
    x, y = data.x[train_idx], data.y[train_idx]
    rows = []
    for name in models:
        model_cfg = cfg.model_copy(update={"model": cfg.model.model_copy(update={"name": name})})
        cv = []
        for fit_idx, held_idx in cv_folds(y, cfg.data.cv_folds, cfg.seed):
            model = build_model(model_cfg).fit(x[fit_idx], y[fit_idx])
            cv.append(binary_metrics(y[held_idx], model.predict_proba(x[held_idx])[:, 1]))
        start = time.perf_counter()
        model = build_model(model_cfg).fit(x, y)
        fit_seconds = time.perf_counter() - start
        test = binary_metrics(data.y[test_idx], model.predict_proba(data.x[test_idx])[:, 1])
        test["roc_auc"] = test.pop("auroc")  # the benchmark's column name
        aucs = np.array([m["auroc"] for m in cv])
        rows.append(
            {
                "dataset": cfg.data.name,
                "model": name,
                **{k: round(v, 4) for k, v in test.items()},
                "roc_auc_cv_mean": round(float(aucs.mean()), 4),
                "roc_auc_cv_std": round(float(aucs.std(ddof=1)), 4),
                "fit_seconds": round(fit_seconds, 2),
                "cost_usd": round(fit_seconds * price_per_hour / 3600, 6),
            }
        )
        print(f"  {name}: test roc_auc {test['roc_auc']:.4f}, cv {aucs.mean():.4f} ± "
              f"{aucs.std(ddof=1):.4f}, fit {fit_seconds:.1f}s", flush=True)  # fmt: skip
    return [{c: r[c] for c in COLUMNS} for r in rows]


def main(argv: list[str]) -> int:
    from churnops.trainers.config import load_train_config
    from churnops.trainers.training_set import ensure_training_set

    args = parse_args(argv)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise SystemExit(f"--models: unknown {unknown}; expected some of {', '.join(MODELS)}")
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    cutoff = date.fromisoformat(args.cutoff)
    cfg = load_train_config(
        [
            f"workdir={args.workdir}",
            f"data.name={args.source}",
            f"data.source.kind={args.source}",
            *([f"data.source.path={args.path}"] if args.path else []),
            f"data.as_of={cutoff}",
            f"data.horizon_days={args.horizon}",
            "logger=none",
            "trainer.progress_bar=false",
            *args.overrides,
        ]
    )
    # Through the feature store, as train builds it (an existing data.path is used as is).
    training_set = ensure_training_set(cfg.workdir, cfg.data)
    print(f"baselines on {training_set} (seed {cfg.seed}, {cfg.data.cv_folds}-fold CV)")
    rows = run_baselines(cfg, models, args.price_per_hour, training_set)
    best = max((r for r in rows if r["model"] != "mlp"), key=lambda r: r["roc_auc"], default=None)
    net = next((r for r in rows if r["model"] == "mlp"), None)
    notes = [
        f"Protocol: features as of {cutoff}, {args.horizon}-day horizon; stratified "
        f"{1 - cfg.data.test_size:.0%}/{cfg.data.test_size:.0%} split, seed {cfg.seed}; "
        f"{cfg.data.cv_folds}-fold stratified CV on the train split (roc_auc_cv_*); each model "
        "then fitted on the whole train split and scored once on the test split.",
        f"cost_usd = fit_seconds x {args.price_per_hour} USD/hour.",
        "mlp: TabularChurnNet through Lightning on CPU, 1 process; 10% of its fit rows held out "
        "for early stopping on val/auroc.",
    ]
    if best and net:
        gap = net["roc_auc"] - best["roc_auc"]
        verdict = (
            "meets" if gap >= -max(net["roc_auc_cv_std"], best["roc_auc_cv_std"]) else "misses"
        )
        notes.append(
            f"Target (net >= best baseline within CV std): {verdict}. mlp {net['roc_auc']:.4f} vs "
            f"{best['model']} {best['roc_auc']:.4f} (gap {gap:+.4f}; CV std mlp "
            f"{net['roc_auc_cv_std']:.4f}, {best['model']} {best['roc_auc_cv_std']:.4f})."
        )
    write_results(
        "baselines",
        rows,
        COLUMNS,
        f"Baselines on {args.source}: the net vs RandomForest, logistic regression, XGBoost, "
        "recency",
        notes,
        results_dir=Path(args.results_dir) if args.results_dir else None,
    )
    return 0
