"""`scripts/gpu-check` (`make gpu-check`): the GPU paths end to end on one machine, one table.

Trains the net on the GPU in bf16 through every launcher (local, TorchDistributor in local and
Spark-task mode, Ray; DDP over every GPU where there are several), fits XGBoost on CUDA, runs the
loaders benchmark at batch 65,536 and 262,144 in fp32 and bf16 (the Lightning net plain and
compiled with CUDA graphs, arrow-stream on threads and on worker processes), runs the scale
benchmark (`--customers` synthetic customers through the feature store, one epoch), and prints
a table last whose `result` column holds each figure beside its target (the constants below;
docs/gpu.md lists them). A step whose engine is not installed (a GPU image without pyspark or
Java, say) gets a `skipped` row naming what is missing, so one call still checks everything else.
Without a CUDA GPU it says so and exits 0 without running anything.
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

from churnops.benchmarks.report import RESULTS_DIR, write_results

COLUMNS = ["step", "launcher", "device", "precision", "seconds", "roc_auc", "result", "status"]
# The GPU targets on one H100 or H200 (docs/gpu.md): the bf16 net at batch 262,144 at least
# 100 M rows/s and 0.9x the raw loop; arrow-stream at least 20 M rows/s; an epoch over 100 M
# customers' fit rows under a minute.
NET_TARGET_ROWS_S, NET_TARGET_VS_RAW = 100e6, 0.9  # bf16, batch 262,144
STREAM_TARGET_ROWS_S = 20e6  # arrow-stream from local Parquet
EPOCH_TARGET_S, FULL_CUSTOMERS = 60.0, 100_000_000
FIT_SHARE = 0.8 * 0.9  # train(cfg) holds out 20% for test and 10% of the rest for validation
SCALE_BATCH = 262_144  # the scale run's batch (its default)


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
    import torch

    gpus = torch.cuda.device_count()
    ddp = ["launcher=local", f"launcher.num_workers={max(gpus, 2)}", "launcher.use_gpu=true"]
    one_gpu = (
        f"skipped: {gpus} GPU here; DDP needs one per rank (the DDP path runs on CPU in "
        "tests/trainers/test_launchers.py)"
    )
    return [
        ("net bf16 ddp", f"local x{max(gpus, 2)}", ddp, None if gpus >= 2 else one_gpu),
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
    parser.add_argument(
        "--customers",
        type=int,
        default=2_000_000,
        help="the scale run's synthetic customers (100000000: the full run, about 10 minutes "
        "more; see docs/gpu.md)",
    )
    parser.add_argument("--skip-scale", action="store_true", help="skip the scale run")
    parser.add_argument("--results-dir", help="where the result files go (default docs/results)")
    args = parser.parse_args(argv)
    if not args.skip_scale and args.customers * FIT_SHARE < SCALE_BATCH:
        parser.error(
            f"--customers {args.customers:,}: the scale run's batch of {SCALE_BATCH:,} needs at "
            f"least {int(SCALE_BATCH / FIT_SHARE) + 1:,} customers (or --skip-scale)"
        )

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
        row["result"] = ""
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

    results_dir = Path(args.results_dir) if args.results_dir else RESULTS_DIR
    if not args.skip_loaders:
        rows.append(_loaders_benchmark(device, str(results_dir)))
        if rows[-1]["status"] == "ok":
            rows += loader_figures(_read_rows(results_dir / "loaders_gpu.json"), device)
    if not args.skip_scale:
        rows.append(_scale_benchmark(device, str(results_dir), args.customers, workdir))

    write_results(
        "gpu_check",
        rows,
        COLUMNS,
        "GPU check: the net in bf16 through every launcher, XGBoost on CUDA, the loaders",
        [
            f"CDNOW training set, trainer=gpu (batch 4096, bf16), {args.epochs} epochs per "
            f"launcher, {logger}.",
            "The loaders benchmark's own table is loaders_gpu.md beside this file, the scale "
            "run's scale_gpu.md; result: the figure beside its target.",
        ],
        results_dir=results_dir,
    )
    # A figure below its target is reported, not a failure: the paths all worked.
    return 0 if all(r["status"].startswith(("ok", "skipped")) for r in rows) else 1


def _loaders_benchmark(device: str, results_dir: str | None) -> dict[str, Any]:
    """Run `scripts/benchmark loaders` on the GPU (writing loaders_gpu.*); its one summary row."""
    from churnops.benchmarks import loaders

    start = time.perf_counter()
    row: dict[str, Any] = {"step": "loaders benchmark", "launcher": "-", "device": device}
    row.update(precision="fp32 (tf32), bf16", roc_auc=None, result="loaders_gpu.md")
    kinds = [k for k in loaders.LOADER_CASES if k != "ray-data" or _missing("ray") is None]
    argv = ["--name", "loaders_gpu", "--loaders", ",".join(kinds), "--seconds", "2"]
    # fp32 at 65,536 is the earlier runs' baseline; bf16 at both sizes carries the targets.
    argv += ["--pairs", "65536:fp32,65536:bf16,262144:bf16"]
    argv += ["--arrow-workers", f"0,{min(4, (os.cpu_count() or 1) // 4) or 1}"]
    argv += ["--ray-prefetch", "1,4"]
    try:
        code = loaders.main([*argv, *(["--results-dir", results_dir] if results_dir else [])])
        row["status"] = "ok" if not code else f"FAILED: exit {code}"
    except Exception as exc:
        traceback.print_exc()
        row["status"] = f"FAILED: {type(exc).__name__}: {exc}"[:160]
    row["seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(row), flush=True)
    return row


def _read_rows(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text())


def _millions(rate: float) -> str:
    return f"{rate / 1e6:.1f} M rows/s"


def loader_figures(rows: list[dict[str, Any]], device: str) -> list[dict[str, Any]]:
    """The loaders benchmark's rows that have a target (bf16 net, arrow-stream), as check rows."""
    out: list[dict[str, Any]] = []

    def figure(step: str, precision: str, result: str, met: bool) -> None:
        out.append(
            {"step": step, "launcher": "-", "device": device, "precision": precision,
             "seconds": None, "roc_auc": None, "result": result,
             "status": "ok" if met else "ok: below target"}
        )  # fmt: skip

    train = [r for r in rows if r["mode"] == "train"]
    for batch in sorted({r["batch_size"] for r in train}):
        for kind in ("lightning", "lightning-compiled"):
            for r in train:
                if (r["loader"], r["batch_size"], r["precision"]) != (kind, batch, "bf16"):
                    continue
                rate, vs = r["rows_per_s"], r.get("vs_raw_loop") or 0.0
                target = batch >= 262_144
                text = f"{_millions(rate)}, {vs:.2f}x the raw loop"
                if target:
                    text += f" (target >= {_millions(NET_TARGET_ROWS_S)}, >= {NET_TARGET_VS_RAW}x)"
                met = not target or (rate >= NET_TARGET_ROWS_S and vs >= NET_TARGET_VS_RAW)
                figure(f"{kind} batch {batch:,}", "bf16-mixed", text, met)
    stream = [r for r in train if r["loader"] == "arrow-stream"]
    if stream:
        best = max(stream, key=lambda r: r["rows_per_s"])
        figure(
            f"arrow-stream batch {best['batch_size']:,} ({best['options']})",
            best["precision"],
            f"{_millions(best['rows_per_s'])} (target >= {_millions(STREAM_TARGET_ROWS_S)})",
            best["rows_per_s"] >= STREAM_TARGET_ROWS_S,
        )
        # An epoch over the 100M-customer set's fit split (72% of it: 20% test, 10% of the
        # rest validation) at the streaming rate of the largest bf16 batch measured.
        big = [r for r in stream if r["precision"] == "bf16"] or stream
        top = max(big, key=lambda r: (r["batch_size"], r["rows_per_s"]))
        seconds = FULL_CUSTOMERS * FIT_SHARE / top["rows_per_s"]
        figure(
            "100M epoch at arrow-stream's rate",
            top["precision"],
            f"{seconds:.0f} s at {_millions(top['rows_per_s'])}, batch {top['batch_size']:,} "
            f"(target < {EPOCH_TARGET_S:.0f} s)",
            seconds < EPOCH_TARGET_S,
        )
    return out


def epoch_figure(rows: list[dict[str, Any]]) -> tuple[str, bool]:
    """The 100M-customer epoch from a scale run: measured if it was the full run, else its fit
    rate applied to the full run's rows."""
    by = {r["stage"]: r for r in rows}
    fit = by["train: the epoch (fit)"]
    customers = fit["customers"]
    if customers >= FULL_CUSTOMERS:
        seconds, how = fit["seconds"], "measured"
    else:
        rows_full = fit["rows"] * FULL_CUSTOMERS / customers
        seconds, how = rows_full / fit["rows_per_s"], f"at the {customers:,}-customer run's rate"
    text = f"100M-customer epoch {seconds:.0f} s, {how} (target < {EPOCH_TARGET_S:.0f} s)"
    return text, seconds < EPOCH_TARGET_S


def _scale_benchmark(
    device: str, results_dir: str, customers: int, workdir: Path
) -> dict[str, Any]:
    """Run `scripts/benchmark scale_epoch` on the GPU (writing scale_gpu.*); its one summary row."""
    from churnops.benchmarks import scale_epoch as scale

    start = time.perf_counter()
    row: dict[str, Any] = {"step": "scale run", "launcher": "local", "device": device}
    row.update(precision="bf16-mixed", roc_auc=None, result="")
    argv = ["--name", "scale_gpu", "--customers", str(customers), "--results-dir", results_dir]
    argv += ["--workdir", str(workdir / "scale")]
    # The feature store's engine and tables: a bare GPU image may lack them (docs/gpu.md).
    skip = _missing("duckdb", "sqlframe", "deltalake")
    try:
        if skip:
            row["status"] = skip
            return row
        scale.main(argv)  # returns 0 or raises
        text, met = epoch_figure(_read_rows(Path(results_dir) / "scale_gpu.json"))
        row.update(result=text, status="ok" if met else "ok: below target")
    except (Exception, SystemExit) as exc:  # argparse exits: one step must not end the check
        traceback.print_exc()
        row["status"] = f"FAILED: {type(exc).__name__}: {exc}"[:160]
    finally:
        row["seconds"] = round(time.perf_counter() - start, 1)
        print(json.dumps(row), flush=True)
    return row
