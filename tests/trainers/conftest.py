"""Fixtures for the trainer tests: quiet Lightning, tiny runs on CDNOW, MLflow in a temp folder."""

from __future__ import annotations

import logging

import pytest


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
