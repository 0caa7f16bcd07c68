"""`churnops demo`: the lifecycle on embedded defaults, as the pipeline's task functions in order.

Every stage is a typed task from `churnops.pipelines.tasks`; this module only passes each task's
outputs to the next and prints each task's table. One working folder, one MLflow store.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from churnops.cli.output import console, print_table

MODEL_NAME = "churnops_churn"
COMPARED = ("mlp", "random_forest", "xgboost", "logistic_regression")  # the last is the challenger


def register(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser("demo", help="run the end-to-end demo pipeline on embedded defaults")
    demo.add_argument("--workdir", default=".churnops/demo", help="where the demo writes")
    demo.add_argument("--requests", type=int, default=400, help="serving check requests")
    demo.add_argument(
        "--keep", action="store_true", help="keep the previous run's outputs (default: start clean)"
    )
    demo.set_defaults(run=run_demo)


def quiet_libraries() -> None:
    """Keep the demo's output to its own tables: no MLflow progress bars, INFO lines or hints."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import mlflow  # noqa: F401  # configures its loggers on import: quiet them after that

    for name in ("mlflow", "alembic", "lightning.pytorch", "py4j"):
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=UserWarning, module=r"mlflow\..*")
    warnings.filterwarnings("ignore", message=r".*LeafSpec.*")


def run_task(title: str, fn: Callable[[Any], Any], inputs: Any) -> Any:
    """Run one task, print its outputs as a table (nested values on their own rows)."""
    console.rule(title)
    start = time.perf_counter()
    out = fn(inputs)
    rows = []
    for key, value in out.model_dump(mode="json").items():
        if isinstance(value, dict) and value and not isinstance(next(iter(value.values())), dict):
            rows += [{"output": f"{key}.{k}", "value": v} for k, v in value.items()]
        else:
            rows.append({"output": key, "value": value})
    print_table(f"{fn.__name__} in {time.perf_counter() - start:.1f} s", rows)
    return out


def run_demo(args: argparse.Namespace) -> int:
    from churnops.pipelines.tasks.batch import BatchInferenceInputs, batch_inference
    from churnops.pipelines.tasks.deployment import ModelDeploymentInputs, model_deployment
    from churnops.pipelines.tasks.features import FeatureEngineeringInputs, feature_engineering
    from churnops.pipelines.tasks.serving import ServingCheckInputs, serving_check
    from churnops.pipelines.tasks.training import ModelTrainingInputs, model_training
    from churnops.pipelines.tasks.tuning import TuningInputs, tuning
    from churnops.pipelines.tasks.validation import ModelValidationInputs, model_validation
    from churnops.trainers.registry.config import ValidationGateConfig

    start = time.perf_counter()
    quiet_libraries()
    workdir = Path(args.workdir)
    if workdir.exists() and not args.keep:
        shutil.rmtree(workdir)  # a demo run starts from nothing, so what it shows is all its own
    workdir.mkdir(parents=True, exist_ok=True)
    run = {"workdir": str(workdir)}  # one folder, one MLflow store and registry for every task
    gate = ValidationGateConfig(latency_rows=500, latency_repeats=3)
    # An A/B challenger may trail the champion a little: the split measures it on live traffic.
    ab_gate = gate.model_copy(update={"max_auc_drop": 0.05})

    features = run_task(
        "1. feature_engineering: CDNOW monthly feature table, training set at 1997-09-30, publish",
        feature_engineering,
        FeatureEngineeringInputs(**run),
    )
    ts = features.training_set

    console.rule("2. model_training: the Lightning net and three baselines, tracked in MLflow")
    compared = []
    for name in COMPARED:
        challenger = name == COMPARED[-1]  # registered (no alias yet) for the A/B test below
        out = model_training(
            ModelTrainingInputs(
                **run,
                training_set=ts,
                model=name,
                register_model=challenger,
                overrides=["trainer=quick"],
            )
        )
        test = {k.removeprefix("test/"): v for k, v in out.metrics.items()}
        version = out.model_version or "-"
        compared.append({"model": name, **test, "fit_s": out.fit_seconds, "version": version})
        if challenger:
            candidate = out
    print_table("test metrics (held-out 20%, stratified, seed 42)", compared)

    tuned = run_task(
        "3. tuning: a short RandomForest sweep, the best registered as challenger",
        tuning,
        TuningInputs(**run, training_set=ts, num_samples=4),
    )
    checked = run_task(
        "4. model_validation: the gate on the tuned model",
        model_validation,
        ModelValidationInputs(**run, training_set=ts, challenger=tuned.model_version, gate=gate),
    )
    if checked.passed:  # the job's condition task: deploy only after a pass
        run_task(
            "5. model_deployment: the tuned model becomes champion",
            model_deployment,
            ModelDeploymentInputs(
                **run, version=tuned.model_version, policy="champion", online=features.online
            ),
        )
    candidate_check = run_task(
        f"6. model_validation: the {COMPARED[-1]} candidate against the champion",
        model_validation,
        ModelValidationInputs(
            **run, training_set=ts, challenger=candidate.model_version, gate=ab_gate
        ),
    )
    if not (checked.passed and candidate_check.passed):
        console.print(f"a gate failed: see {checked.report_path}, {candidate_check.report_path}")
        return 1  # deployment runs only after a pass; the champion stays as it was
    deployed = run_task(
        "7. model_deployment: candidate as challenger, champion 80 / challenger 20",
        model_deployment,
        ModelDeploymentInputs(
            **run, version=candidate.model_version, policy="challenger", online=features.online
        ),
    )
    run_task(
        "8. serving_check: the endpoint over HTTP with online lookup; inference log == acks",
        serving_check,
        ServingCheckInputs(
            **run,
            endpoint_config=deployed.endpoint_config,
            orders_path=features.orders_path,
            requests=args.requests,
        ),
    )
    run_task(
        "9. batch_inference: every customer as of 1998-06-30 scored by the champion",
        batch_inference,
        BatchInferenceInputs(
            **run,
            orders_path=features.orders_path,
            as_of="1998-06-30",
            feature_store_root=features.feature_store_root,
            model_uri=f"models:/{MODEL_NAME}@champion",
        ),
    )
    console.rule(f"done in {time.perf_counter() - start:.0f} s; outputs under {workdir}/")
    return 0
