"""The demo's training step: every model family on one training set, tracked, one table."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from churnops.trainers.config import load_train_config
from churnops.trainers.train import train

DEMO_MODELS = ("mlp", "random_forest", "logistic_regression", "xgboost")


def run_training_demo(training_set_path: Path, workdir: Path) -> list[dict[str, Any]]:
    """Train the net and the three baselines on `training_set_path` with quick settings.

    Each run is tracked in MLflow at sqlite:///<workdir>/mlflow.db (experiment
    "churnops-train"). Prints the test metrics as a table and returns its rows (model,
    launcher, roc_auc, pr_auc, log_loss, brier, fit_s, run_id).
    """
    from churnops.cli.output import console, print_table

    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    rows = []
    for name in DEMO_MODELS:
        cfg = load_train_config(
            [
                f"model={name}",
                "trainer=quick",
                f"workdir={workdir}",
                f"data.path={training_set_path}",
                "trainer.progress_bar=false",
            ]
        )
        console.print(f"training {name} ...")
        result = train(cfg)
        rows.append({**result.summary(), "run_id": result.run_id})
    shown = [{k: v for k, v in row.items() if k != "run_id"} for row in rows]
    print_table("test metrics (held-out 20%, stratified, seed 42)", shown)
    console.print(f"MLflow runs: sqlite:///{Path(workdir).resolve() / 'mlflow.db'}")
    return rows
