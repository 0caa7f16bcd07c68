"""`churnops demo`: the end-to-end job on embedded defaults, one stage after another.

Each stage is a library function owned by its package; this module only runs them in order and
passes each stage's outputs to the next.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import time
import warnings
from pathlib import Path

from churnops.cli.features import DEFAULT_CONFIG, print_summary
from churnops.cli.output import console
from churnops.config import load_config
from churnops.data.features.build import FeaturesJobConfig, build_features


def register(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser("demo", help="run the end-to-end demo on embedded defaults")
    demo.add_argument("--workdir", default=".churnops/demo", help="where the demo writes")
    demo.add_argument(
        "--keep", action="store_true", help="keep the previous run's outputs (default: start clean)"
    )
    demo.set_defaults(run=run_demo)


def quiet_libraries() -> None:
    """Keep the demo's output to its own tables: no MLflow progress bars, INFO lines or hints."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for name in ("mlflow", "alembic", "lightning.pytorch", "py4j"):
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=UserWarning, module=r"mlflow\..*")
    warnings.filterwarnings("ignore", message=r".*LeafSpec.*")


def run_demo(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    quiet_libraries()
    workdir = Path(args.workdir)
    if workdir.exists() and not args.keep:
        shutil.rmtree(workdir)  # a demo run starts from nothing, so what it shows is all its own
    workdir.mkdir(parents=True, exist_ok=True)

    console.rule("1. features: CDNOW as of 1997-09-30 (duckdb engine)")
    cfg = load_config(FeaturesJobConfig, DEFAULT_CONFIG, [f"output_dir={workdir}/features"])
    print_summary(build_features(cfg), cfg)

    console.rule("2. feature store: monthly feature table, point-in-time training set, publish")
    from churnops.data.feature_store.demo import run_feature_store_demo

    store = run_feature_store_demo(workdir)

    console.rule("3. training: the Lightning net and three baselines, tracked in MLflow")
    from churnops.trainers.demo import run_training_demo

    training_set = Path(store["training_set_path"])
    run_training_demo(training_set, workdir / "train")

    console.rule("4. registry: a short sweep, the validation gate, champion and challenger")
    from churnops.trainers.registry.demo import run_registry_demo

    registry = run_registry_demo(training_set, workdir / "registry")

    console.rule("5. serving: champion 80 / challenger 20 over HTTP with online feature lookup")
    from churnops.serving.demo import run_serving_demo

    run_serving_demo(
        workdir,
        registry["champion_uri"],
        registry["challenger_uri"],
        online_store_config=store["online_store_config"],
        feature_table=store["feature_table"],
        requests=400,
        tracking_uri=registry["tracking_uri"],
    )

    console.rule(f"done in {time.perf_counter() - start:.0f} s; outputs under {workdir}/")
    return 0
