"""`scripts/gpu-check` (`make gpu-check`): the GPU paths end to end on one machine, one table.

Trains the net on the GPU in bf16 through every launcher (local, TorchDistributor in local and
Spark-task mode, Ray), fits XGBoost on CUDA, runs the loaders benchmark, and prints a table
last. Without a CUDA GPU it says so and exits 0 without running anything.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from churnops.benchmarks.report import write_results

COLUMNS = ["step", "launcher", "device", "precision", "seconds", "roc_auc", "status"]


def _spark_with_gpu(workdir: Path) -> Any:
    """A local Spark session that owns GPU 0, as TorchDistributor(use_gpu=True) requires."""
    from churnops.data.engines.spark import SparkEngine

    script = workdir / "gpus.sh"
    script.write_text('#!/bin/sh\necho \'{"name": "gpu", "addresses": ["0"]}\'\n')
    script.chmod(0o755)
    conf = {
        "spark.driver.resource.gpu.amount": "1",
        "spark.driver.resource.gpu.discoveryScript": str(script),
        "spark.executor.resource.gpu.amount": "1",
        "spark.task.resource.gpu.amount": "1",
        "spark.worker.resource.gpu.amount": "1",
        "spark.worker.resource.gpu.discoveryScript": str(script),
    }
    return SparkEngine(master="local[1]", conf=conf)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="scripts/gpu-check", description=__doc__)
    parser.add_argument("--workdir", default=".churnops/gpu-check")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--skip-loaders", action="store_true", help="skip the loaders benchmark")
    parser.add_argument("--results-dir", help="where gpu_check.json/.md go (default docs/results)")
    args = parser.parse_args(argv)

    import torch

    if not torch.cuda.is_available():
        print("gpu-check: skipped: no CUDA GPU visible to torch (torch.cuda.is_available() is "
              f"False; torch {torch.__version__}). Run it on a GPU machine.")  # fmt: skip
        return 0
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    from churnops.trainers.config import load_train_config
    from churnops.trainers.data import cdnow_training_set
    from churnops.trainers.train import train

    workdir = Path(args.workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    training_set = workdir / "training_set.parquet"
    if not training_set.exists():
        cdnow_training_set(training_set)
    device = torch.cuda.get_device_name(0)
    base = [
        f"workdir={workdir}",
        f"data.path={training_set}",
        "trainer=gpu",
        f"trainer.max_epochs={args.epochs}",
        "trainer.progress_bar=false",
        "logger.experiment=gpu-check",
    ]
    steps: list[tuple[str, str, list[str]]] = [
        ("net bf16", "local", ["launcher=local", "launcher.use_gpu=true"]),
        ("net bf16", "torch_distributor (local_mode)",
         ["launcher=torch_distributor", "launcher.num_workers=1", "launcher.use_gpu=true"]),
        ("net bf16", "torch_distributor (spark tasks)",
         ["launcher=torch_distributor", "launcher.num_workers=1", "launcher.use_gpu=true",
          "launcher.local_mode=false"]),
        ("net bf16", "ray", ["launcher=ray", "launcher.num_workers=1", "launcher.use_gpu=true"]),
        ("xgboost cuda", "in-process", ["model=xgboost", "model.xgboost.device=cuda"]),
    ]  # fmt: skip
    rows: list[dict[str, Any]] = []
    for step, launcher, overrides in steps:
        start = time.perf_counter()
        row: dict[str, Any] = {"step": step, "launcher": launcher, "device": device}
        row["precision"] = "-" if "xgboost" in step else "bf16-mixed"
        try:
            if launcher.startswith("torch_distributor"):
                _spark_with_gpu(workdir)
            result = train(load_train_config([*base, *overrides]))
            fit = getattr(result.model, "fit_result", None)
            if fit is not None and not fit.device.startswith("cuda"):
                raise RuntimeError(f"trained on {fit.device}, not on the GPU")
            row.update(roc_auc=round(result.metrics["test/auroc"], 4), status="ok")
        except Exception as exc:  # one broken path must not hide the others' results
            traceback.print_exc()
            row.update(roc_auc=None, status=f"FAILED: {type(exc).__name__}: {exc}"[:160])
        row["seconds"] = round(time.perf_counter() - start, 1)
        rows.append(row)
        print(json.dumps(row), flush=True)

    if not args.skip_loaders:
        start = time.perf_counter()
        row = {"step": "loaders benchmark", "launcher": "-", "device": device}
        row["precision"] = "-"
        try:
            from churnops.benchmarks import loaders

            with tempfile.TemporaryDirectory() as tmp:
                code = loaders.main(["--results-dir", tmp] if args.results_dir is None else [])
            row.update(status="ok" if not code else f"FAILED: exit {code}")
        except Exception as exc:
            traceback.print_exc()
            row.update(status=f"FAILED: {type(exc).__name__}: {exc}"[:160])
        row.update(roc_auc=None, seconds=round(time.perf_counter() - start, 1))
        rows.append(row)

    write_results(
        "gpu_check",
        rows,
        COLUMNS,
        "GPU check: the net in bf16 through every launcher, XGBoost on CUDA, the loaders",
        [f"CDNOW training set, trainer=gpu (batch 4096, bf16), {args.epochs} epochs per launcher."],
        results_dir=Path(args.results_dir) if args.results_dir else None,
    )
    return 0 if all(r["status"] == "ok" for r in rows) else 1
