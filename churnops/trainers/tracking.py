"""MLflow tracking for training runs: params, per-epoch and test metrics, plots, config, lineage.

The embedded default is a SQLite store at <workdir>/mlflow.db with artifacts beside it in
<workdir>/mlartifacts; `logger.tracking_uri` points anywhere else (a server, Databricks).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from churnops.trainers.config import LoggerConfig, TrainConfig


def default_tracking_uri(workdir: str | Path) -> str:
    """sqlite:///<absolute workdir>/mlflow.db."""
    return f"sqlite:///{Path(workdir).resolve() / 'mlflow.db'}"


class MLflowTracker:
    """One MLflow run per training run; `NullTracker` has the same methods and logs nothing."""

    def __init__(self, cfg: LoggerConfig, workdir: str | Path):
        import mlflow

        self.mlflow = mlflow
        self.workdir = Path(workdir).resolve()
        self.tracking_uri = cfg.tracking_uri or default_tracking_uri(self.workdir)
        self.cfg = cfg
        self.run_id: str | None = None

    @contextlib.contextmanager
    def start_run(self, run_name: str) -> Iterator[MLflowTracker]:
        mlflow = self.mlflow
        self.workdir.mkdir(parents=True, exist_ok=True)
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.cfg.registry_uri or self.tracking_uri)
        experiment_id = ensure_experiment(self.cfg.experiment)
        with mlflow.start_run(experiment_id=experiment_id, run_name=run_name) as run:
            self.run_id = run.info.run_id
            yield self

    def log_config(self, cfg: TrainConfig) -> None:
        """The resolved config: flattened as params and whole as resolved_config.yaml."""
        params = _flatten(cfg.model_dump(mode="json"))
        self.mlflow.log_params({k: _param(v) for k, v in params.items()})
        self.mlflow.log_text(
            yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False), "resolved_config.yaml"
        )

    def log_lineage(self, lineage: dict[str, Any]) -> None:
        """The training set's path, fingerprint and source tables' versions, and the seed."""
        self.mlflow.set_tags({f"lineage.{k}": _param(v) for k, v in lineage.items()})
        self.mlflow.log_dict(lineage, "lineage.json")

    def log_history(self, history: list[dict[str, float]]) -> None:
        """Per-epoch metrics (`train/...`, `val/...`) with the epoch as the step."""
        for row in history:
            epoch = int(row["epoch"])
            self.mlflow.log_metrics({k: v for k, v in row.items() if k != "epoch"}, step=epoch)

    def log_metrics(self, metrics: dict[str, float]) -> None:
        self.mlflow.log_metrics(metrics)

    def log_artifacts(self, paths: list[Path], artifact_path: str | None = None) -> None:
        for path in paths:
            self.mlflow.log_artifact(str(path), artifact_path=artifact_path)


class NullTracker:
    """logger.name=none: the tracker's methods, doing nothing."""

    run_id = None
    tracking_uri = None

    @contextlib.contextmanager
    def start_run(self, run_name: str) -> Iterator[NullTracker]:
        yield self

    def __getattr__(self, name: str):
        return lambda *args, **kwargs: None


def make_tracker(cfg: LoggerConfig, workdir: str | Path) -> MLflowTracker | NullTracker:
    return MLflowTracker(cfg, workdir) if cfg.name == "mlflow" else NullTracker()


def training_set_lineage(path: Path, cfg: TrainConfig, rows: int) -> dict[str, Any]:
    """What a run needs to be reproduced: the data's path, fingerprint, tables, seed."""
    from churnops.data.storage import is_local

    # An object-store training set is read from a local copy: the URI is what reproduces.
    remote = cfg.data.path and not is_local(cfg.data.path)
    lineage: dict[str, Any] = {
        "training_set": cfg.data.path if remote else str(path.resolve()),
        "training_set_rows": rows,
        "seed": cfg.seed,
        "tables": json.dumps([t.model_dump() for t in cfg.data.tables]),
    }
    if path.is_file():
        digest = hashlib.sha256()
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        lineage["training_set_sha256"] = digest.hexdigest()
    elif (path / "_delta_log").is_dir():
        from deltalake import DeltaTable

        lineage["training_set_delta_version"] = DeltaTable(str(path)).version()
    return lineage


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(_flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def _param(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text[:6000]


def ensure_experiment(name: str) -> str:
    """The id of experiment `name` in the current tracking store, created when missing.

    With an embedded SQLite store its artifacts go beside the database (`mlartifacts/`), never
    into the working directory, and a file lock makes the first touch safe when several task
    processes of one pipeline run start at once (MLflow's schema migration and the experiment's
    creation both race otherwise).
    """
    import mlflow

    uri = mlflow.get_tracking_uri()
    if not uri.startswith("sqlite:///"):
        return _get_or_create_experiment(name, None)
    db = Path(uri.removeprefix("sqlite:///")).resolve()
    db.parent.mkdir(parents=True, exist_ok=True)
    with open(db.with_name(db.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _get_or_create_experiment(name, (db.parent / "mlartifacts").as_uri())


def _get_or_create_experiment(name: str, location: str | None) -> str:
    import mlflow

    experiment = mlflow.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    return mlflow.create_experiment(name, artifact_location=location)
