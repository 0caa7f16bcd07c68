"""Fixtures for the trainer tests: CDNOW's training set built once, MLflow in a temp folder."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def cdnow_training_set_path(tmp_path_factory) -> Path:
    """CDNOW's training set (cutoff 1997-09-30, horizon 180), built once per run."""
    from churnops.trainers.config import DataConfig
    from churnops.trainers.training_set import build_training_set

    folder = tmp_path_factory.mktemp("training")
    return build_training_set(folder / "training_set.parquet", DataConfig(), folder / "fs").path


@pytest.fixture(autouse=True)
def _quiet_lightning():
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)


@pytest.fixture
def tiny_overrides(tmp_path, cdnow_training_set_path) -> list[str]:
    """A seconds-long net run on CDNOW, tracked in a temp SQLite MLflow store."""
    return [
        f"workdir={tmp_path}",
        f"data.path={cdnow_training_set_path}",
        "trainer.max_epochs=2",
        "trainer.limit_train_batches=4",
        "trainer.progress_bar=false",
    ]


@pytest.fixture(scope="session")
def ray_cluster():
    """A local 2-CPU Ray instance for the run (reused if another fixture started one)."""
    import ray

    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    if started:
        ray.shutdown()
