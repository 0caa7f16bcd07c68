"""CDNOW's cutoff is written once, in configs/data/cdnow.yaml, and every default reads it."""

from __future__ import annotations

from datetime import date

import pytest
import yaml

from churnops.config import CONFIG_DIR
from churnops.data.datasets import cdnow_cutoff
from churnops.data.features.build import FeaturesJobConfig
from churnops.pipelines.tasks.features import FeatureEngineeringInputs
from churnops.trainers.config import DataConfig, load_train_config


def test_the_cutoff_is_the_data_configs_as_of():
    data = yaml.safe_load((CONFIG_DIR / "data" / "cdnow.yaml").read_text())
    assert cdnow_cutoff() == data["as_of"] == date(1997, 9, 30)


def test_every_default_cutoff_is_the_data_configs():
    assert DataConfig().as_of == cdnow_cutoff()
    assert load_train_config().data.as_of == cdnow_cutoff()
    assert FeaturesJobConfig().as_of == cdnow_cutoff()
    assert FeatureEngineeringInputs(workdir="w").as_of == cdnow_cutoff()


@pytest.mark.parametrize("job", ["demo", "training", "batch_inference"])
def test_the_pipelines_copy_of_the_cutoff_equals_the_data_configs(job):
    # Job parameter defaults are literals (Databricks holds them so); this keeps the copy true.
    spec = yaml.safe_load((CONFIG_DIR / "pipeline" / f"{job}.yaml").read_text())
    defaults = {p["name"]: p["default"] for p in spec["parameters"]}
    assert defaults["as_of"] == cdnow_cutoff().isoformat()
