"""`churnops demo`: the end-to-end job on embedded defaults, one stage after another.

Each stage is a library function owned by its package; this module only runs them in order and
passes each stage's outputs to the next.
"""

from __future__ import annotations

import argparse
import shutil
import time
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


def run_demo(args: argparse.Namespace) -> int:
    start = time.perf_counter()
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

    run_training_demo(Path(store["training_set_path"]), workdir)

    console.rule(f"done in {time.perf_counter() - start:.0f} s; outputs under {workdir}/")
    return 0
