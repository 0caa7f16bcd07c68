"""`train(cfg)`: one training run, end to end, tracked in MLflow.

Build (or read) the training set, split it (stratified, seeded), fit the configured model family
(the net through the configured launcher), score the held-out test split, log everything, and end
with the churnops pyfunc logged (feature spec, signature, input example) and, when asked,
registered. The result carries the model URI that the registry, serving and batch scoring load.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from churnops.data.storage import configure_storage
from churnops.trainers.config import TrainConfig
from churnops.trainers.data import load_training_arrays
from churnops.trainers.estimators import build_model
from churnops.trainers.evaluation import binary_metrics, save_plots
from churnops.trainers.splits import split_train_test
from churnops.trainers.tracking import make_tracker, training_set_lineage
from churnops.trainers.training_set import TrainingData, prepare_training_data

EXAMPLE_ROWS = 5  # rows of the training set saved with the model as its input example


@dataclass
class TrainResult:
    """What one run produced: test metrics, the fitted model, and where it was logged."""

    model_name: str
    metrics: dict[str, float]  # test/auroc, test/pr_auc, test/log_loss, test/brier
    fit_seconds: float
    model: Any
    run_id: str | None
    tracking_uri: str | None
    training_set: Path
    n_train: int
    n_test: int
    launcher: str
    history: list[dict[str, float]] = field(default_factory=list)
    model_uri: str | None = None  # the logged pyfunc (None with logger.name=none)
    model_version: str | None = None  # the registered version, when registry.enabled
    # where the model's feature lookups read (churnops score-batch --root): it scores by key
    feature_store_root: Path | None = None
    data_report: Any = None  # a customer table's CustomerTableReport

    def summary(self) -> dict[str, Any]:
        """One row for a table of test metrics (columns named without the `test/` prefix)."""
        test = {k.removeprefix("test/"): v for k, v in self.metrics.items()}
        return {"model": self.model_name, "launcher": self.launcher, **test,
                "fit_s": self.fit_seconds}  # fmt: skip


def input_example(path: Path, columns: list[str], rows: int = EXAMPLE_ROWS) -> pd.DataFrame:
    """The training set's first rows, in its own dtypes (integer counts stay integers), so every
    model logged from one training set has the same signature."""
    import pyarrow.parquet as pq

    if (path / "_delta_log").is_dir():
        from deltalake import DeltaTable

        table = DeltaTable(str(path)).to_pyarrow_dataset().head(rows, columns=columns)
    else:
        file = pq.ParquetFile(path)
        table = file.read_row_group(0, columns=columns).slice(0, rows)
        table = _nullable_ints_as_double(table, file.metadata)
    return table.to_pandas()


def _nullable_ints_as_double(table: Any, metadata: Any) -> Any:
    """Integer columns with a null anywhere in the file become doubles in the example, so the
    signature admits the missing values scoring will meet (the first rows may have none)."""
    import pyarrow as pa

    names = [metadata.schema.column(j).name for j in range(metadata.num_columns)]
    nullable = set()
    for i in range(metadata.num_row_groups):
        group = metadata.row_group(i)
        for j, name in enumerate(names):
            stats = group.column(j).statistics
            if stats is None or stats.null_count is None or stats.null_count > 0:
                nullable.add(name)
    for i, column in enumerate(table.schema):
        if column.name in nullable and pa.types.is_integer(column.type):
            table = table.set_column(i, column.name, table.column(i).cast(pa.float64()))
    return table


def train(cfg: TrainConfig, log_model: Any = None) -> TrainResult:
    """Run one training job as `cfg` says and return its result (see `TrainResult`).

    The logged config is `cfg` with the feature columns the data resolved. `log_model(model,
    spec, input_example=...)`, when given, logs the model instead of `log_pyfunc_model` (the
    pipeline's logs through the feature store: `fe.log_model` on Databricks).
    """
    if cfg.storage is not None:
        configure_storage(cfg.storage)
    prepared = prepare_training_data(cfg, cfg.engine)
    cfg, path = prepared.cfg, prepared.path
    data = load_training_arrays(path, cfg.features.names, cfg.data.label_column, cfg.data.id_column)
    train_idx, test_idx = split_train_test(data.y, cfg.data.test_size, cfg.seed)
    y, columns = data.y, data.feature_columns
    x_train, x_test = data.x[train_idx], data.x[test_idx]
    del data  # the two splits hold every row: the whole matrix beside them was a second copy
    model = build_model(cfg)
    launcher = cfg.launcher.name if cfg.model.name == "mlp" else "in-process"
    tracker = make_tracker(cfg.logger, cfg.workdir)
    run_name = cfg.logger.run_name or f"{cfg.model.name}-{cfg.data.name}"
    model_uri = model_version = None
    with tracker.start_run(run_name):
        tracker.log_config(cfg)
        tracker.log_lineage(training_set_lineage(path, cfg, len(y)))
        start = time.perf_counter()
        model.fit(x_train, y[train_idx])
        fit_seconds = time.perf_counter() - start
        del x_train  # the model holds what it needs; scoring the test rows needs only them
        p = model.predict_proba(x_test)[:, 1]
        y_test = y[test_idx]
        metrics = binary_metrics(y_test, p, "test")
        history = getattr(getattr(model, "fit_result", None), "history", None) or []
        tracker.log_history(history)
        tracker.log_metrics({**metrics, "fit_seconds": fit_seconds})
        if cfg.logger.name == "mlflow":
            if cfg.logger.log_plots:
                _log_plots(tracker, cfg, model, y_test, p, columns)
            model_uri, model_version = _log_and_register(
                cfg, model, prepared, metrics, tracker, log_model
            )
    return TrainResult(
        model_name=cfg.model.name,
        metrics=metrics,
        fit_seconds=fit_seconds,
        model=model,
        run_id=tracker.run_id,
        tracking_uri=tracker.tracking_uri,
        training_set=path,
        n_train=len(train_idx),
        n_test=len(test_idx),
        launcher=launcher,
        history=history,
        model_uri=model_uri,
        model_version=model_version,
        feature_store_root=prepared.feature_store_root if prepared.lookups else None,
        data_report=prepared.report,
    )


def _log_plots(
    tracker: Any, cfg: TrainConfig, model: Any, y: np.ndarray, p: np.ndarray, columns: list[str]
) -> None:
    importances = getattr(model, "feature_importances", None)
    with tempfile.TemporaryDirectory() as tmp:
        plots = save_plots(
            y, p, Path(tmp, "plots"), f"{cfg.model.name} on {cfg.data.name}",
            feature_names=columns,
            importances=np.asarray(importances) if importances is not None else None,
        )  # fmt: skip
        tracker.log_artifacts(plots, "plots")


def _log_and_register(
    cfg: TrainConfig,
    model: Any,
    prepared: TrainingData,
    metrics: dict[str, float],
    tracker: Any,
    log_model: Any = None,
) -> tuple[str, str | None]:
    """Log the pyfunc in the active run (the net's weights or the baseline travel inside it),
    with the feature lookups that find its features by key; register it when
    `cfg.registry.enabled`. Returns (model URI, registered version or None)."""
    from churnops.models.feature_spec import FeatureSpec
    from churnops.models.pyfunc import log_pyfunc_model

    columns = list(cfg.features.names)
    spec = FeatureSpec(columns, prepared.lookups, label=cfg.data.label_column)
    import mlflow

    # Lineage: the feature tables' versions the lookups read, as packaging.log_model tags them.
    mlflow.set_tags({f"feature_table.{t}": str(v) for t, v in spec.table_versions.items()})
    if prepared.report is not None:  # what the read rejected, typed and made missing
        mlflow.log_text(prepared.report.to_json(), "data/customer_table_report.json")
    log = log_model or log_pyfunc_model
    info = log(model, spec, input_example=input_example(prepared.path, columns))
    if not cfg.registry.enabled:
        return info.model_uri, None
    from churnops.trainers.registry.registry import ModelRegistry

    registry = ModelRegistry(tracker.tracking_uri, cfg.logger.registry_uri)
    version = registry.register(
        info.model_uri,
        cfg.registry.model_name,
        description=f"{cfg.model.name} on {cfg.data.name}"
        + ("" if cfg.data.path else f" as of {cfg.data.as_of} (h={cfg.data.horizon_days})")
        + f": test/auroc {metrics['test/auroc']:.4f}",
        tags={"train.run_id": tracker.run_id, "data.as_of": cfg.data.as_of},
        alias=cfg.registry.alias,
    )
    return info.model_uri, str(version.version)
