"""What every task's inputs carry: one working folder, one tracking store, one registry per run."""

from __future__ import annotations

from pathlib import Path

from churnops.config import StrictConfig
from churnops.data.storage import StorageConfig, configure_storage, join


class RunInputs(StrictConfig):
    """The fields every task of a run shares (`workdir`, `tracking_uri`, `registry_uri`), so
    all its tasks write under one folder and log to one MLflow store."""

    workdir: str = ".churnops/pipeline"
    tracking_uri: str | None = None  # None: sqlite:///<workdir>/mlflow.db
    registry_uri: str | None = None  # None: the tracking URI doubles as the registry
    # Where the run's tables live (feature store, training set, predictions, monitor tables):
    # a folder or an s3://, gs://, abfss:// URI; None: the workdir. See docs/storage.md.
    tables_root: str | None = None
    storage: StorageConfig | None = None  # object-store credentials; None: AWS_* etc. only

    def table_path(self, *parts: str) -> str:
        """A path under `tables_root` (or the workdir)."""
        return join(self.tables_root or self.workdir, *parts)

    def use_storage(self) -> None:
        """Make this run's `storage` setting the process's (see `configure_storage`)."""
        configure_storage(self.storage)

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

        self.use_storage()
        Path(self.workdir).mkdir(parents=True, exist_ok=True)
        mlflow.set_tracking_uri(self.resolved_tracking_uri())
        mlflow.set_registry_uri(self.resolved_registry_uri())
