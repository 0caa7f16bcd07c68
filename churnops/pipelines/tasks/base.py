"""What every task's inputs carry: one working folder, one tracking store, one registry per run."""

from __future__ import annotations

from pathlib import Path

from churnops.config import StrictConfig


class RunInputs(StrictConfig):
    """The fields every task of a run shares (contract 4: `workdir`, `tracking_uri`,
    `registry_uri`), so all its tasks write under one folder and log to one MLflow store."""

    workdir: str = ".churnops/pipeline"
    tracking_uri: str | None = None  # None: sqlite:///<workdir>/mlflow.db
    registry_uri: str | None = None  # None: the tracking URI doubles as the registry

    def resolved_tracking_uri(self) -> str:
        """`tracking_uri`, or the embedded SQLite store under `workdir`."""
        if self.tracking_uri:
            return self.tracking_uri
        return f"sqlite:///{Path(self.workdir).resolve() / 'mlflow.db'}"

    def resolved_registry_uri(self) -> str:
        return self.registry_uri or self.resolved_tracking_uri()

    def use_tracking(self) -> None:
        """Point this process's MLflow at the run's tracking store and registry."""
        import mlflow

        Path(self.workdir).mkdir(parents=True, exist_ok=True)
        mlflow.set_tracking_uri(self.resolved_tracking_uri())
        mlflow.set_registry_uri(self.resolved_registry_uri())
