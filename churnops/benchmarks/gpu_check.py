"""`scripts/gpu-check` (`make gpu-check`): the GPU paths end to end on one machine, one table.

Trains the net on the GPU in bf16 through every launcher (local, TorchDistributor in local and
Spark-task mode, Ray), fits XGBoost on CUDA, runs the loaders benchmark on the GPU, and prints a
table last. A launcher whose engine is not installed (a GPU image without pyspark or Java, say)
gets a `skipped` row naming what is missing, so one call still checks everything else. Without
a CUDA GPU it says so and exits 0 without running anything.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import shutil
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


def _missing(*modules: str, java: bool = False) -> str | None:
    """What this machine lacks to run a step, or None when it has everything."""
    absent = [m for m in modules if importlib.util.find_spec(m) is None]
    if java and shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        absent.append("Java")
    return f"skipped: {', '.join(absent)} not installed here" if absent else None


def _steps() -> list[tuple[str, str, list[str], str | None]]:
    """(step, launcher, overrides, why it cannot run here or None) for every GPU path."""
    td = ["launcher=torch_distributor", "launcher.num_workers=1", "launcher.use_gpu=true"]
    tasks = [*td, "launcher.local_mode=false"]
    no_spark = _missing("pyspark", java=True)
    return [
        ("net bf16", "local", ["launcher=local", "launcher.use_gpu=true"], None),
        ("net bf16", "torch_distributor (local_mode)", td, no_spark),
        ("net bf16", "torch_distributor (spark tasks)", tasks, no_spark),
        ("net bf16", "ray", ["launcher=ray", "launcher.num_workers=1", "launcher.use_gpu=true"],
         _missing("ray")),
        ("xgboost cuda", "in-process", ["model=xgboost", "model.xgboost.device=cuda"],
         _missing("xgboost")),
    ]  # fmt: skip


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="scripts/gpu-check", description=__doc__)
    parser.add_argument("--workdir", default=".churnops/gpu-check")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--training-set", help="a CDNOW training set Parquet to reuse")
    parser.add_argument("--skip-loaders", action="store_true", help="skip the loaders benchmark")
    parser.add_argument("--results-dir", help="where the result files go (default docs/results)")
    args = parser.parse_args(argv)

    import torch

    if not torch.cuda.is_available():
        print("gpu-check: skipped: no CUDA GPU visible to torch (torch.cuda.is_available() is "
              f"False; torch {torch.__version__}). Run it on a GPU machine.")  # fmt: skip
        return 0
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    from churnops.trainers.config import load_train_config
    from churnops.trainers.train import train
    from churnops.trainers.training_set import build_training_set

    workdir = Path(args.workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    training_set = Path(args.training_set or workdir / "training_set.parquet").resolve()
    if not training_set.exists():
        build_training_set(training_set, load_train_config().data, workdir / "feature_store")
    device = torch.cuda.get_device_name(0)
    # A GPU image may lack MLflow: the runs are then untracked, the training unchanged.
    logger = "logger.experiment=gpu-check" if _missing("mlflow") is None else "logger=none"
    base = [
        f"workdir={workdir}",
        f"data.path={training_set}",
        "trainer=gpu",
        f"trainer.max_epochs={args.epochs}",
        "trainer.progress_bar=false",
        logger,
    ]
    rows: list[dict[str, Any]] = []
    for step, launcher, overrides, skip in _steps():
        start = time.perf_counter()
        row: dict[str, Any] = {"step": step, "launcher": launcher, "device": device}
        row["precision"] = "-" if "xgboost" in step else "bf16-mixed"
        try:
            if skip:
                row.update(roc_auc=None, status=skip)
            else:
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
        rows.append(_loaders_benchmark(device, args.results_dir))

    write_results(
        "gpu_check",
        rows,
        COLUMNS,
        "GPU check: the net in bf16 through every launcher, XGBoost on CUDA, the loaders",
        [
            f"CDNOW training set, trainer=gpu (batch 4096, bf16), {args.epochs} epochs per "
            f"launcher, {logger}.",
            "The loaders benchmark's own table is loaders_gpu.md beside this file.",
        ],
        results_dir=Path(args.results_dir) if args.results_dir else None,
    )
    return 0 if all(r["status"] == "ok" or r["status"].startswith("skipped") for r in rows) else 1


def _loaders_benchmark(device: str, results_dir: str | None) -> dict[str, Any]:
    """Run `scripts/benchmark loaders` on the GPU (writing loaders_gpu.*); its one summary row."""
    from churnops.benchmarks import loaders

    start = time.perf_counter()
    row: dict[str, Any] = {"step": "loaders benchmark", "launcher": "-", "device": device}
    row.update(precision="fp32 (tf32)", roc_auc=None)
    kinds = [k for k in loaders.LOADERS if k != "ray-data" or _missing("ray") is None]
    argv = ["--name", "loaders_gpu", "--loaders", ",".join(kinds)]
    try:
        code = loaders.main([*argv, *(["--results-dir", results_dir] if results_dir else [])])
        row["status"] = "ok" if not code else f"FAILED: exit {code}"
    except Exception as exc:
        traceback.print_exc()
        row["status"] = f"FAILED: {type(exc).__name__}: {exc}"[:160]
    row["seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(row), flush=True)
    return row
