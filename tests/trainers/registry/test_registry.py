"""Register with lineage tags, aliases and stages, and errors that name what is missing."""

from __future__ import annotations

import pytest

from churnops.trainers.registry import CHALLENGER, CHAMPION, ModelRegistry, RegistryError
from tests.trainers.registry.conftest import NAME, log


def test_register_tags_aliases_and_stages(mlflow_tmp, fitted_models, cdnow_frame):
    registry = ModelRegistry(mlflow_tmp)
    uri = log(fitted_models["good"], cdnow_frame)
    v1 = registry.register(uri, NAME, description="forest", tags={"team": "growth"},
                           alias=CHAMPION)  # fmt: skip
    assert str(v1.version) == "1"
    assert v1.description == "forest"
    assert v1.tags["team"] == "growth"
    assert v1.tags["run_id"] and v1.tags["metric.test/auroc"] == "0.5"
    assert len(v1.tags["code_version"]) >= 7
    assert v1.tags["feature_spec.flavor"] == "sklearn"
    v2 = registry.register(uri, NAME, alias=CHALLENGER)
    assert str(registry.resolve(f"models:/{NAME}@{CHAMPION}").version) == "1"
    assert str(registry.resolve(f"models:/{NAME}@{CHALLENGER}").version) == "2"

    registry.promote(NAME, v2.version)
    assert registry.alias_version(NAME, CHAMPION) == "2"
    assert registry.alias_version(NAME, CHALLENGER) is None  # the promoted challenger's alias

    registry.transition_stage(NAME, 1, "Production")
    registry.transition_stage(NAME, 2, "Production", archive_existing=True)
    rows = {v.version: v for v in registry.list_versions(NAME)}
    assert rows["2"].stage == "Production" and rows["1"].stage == "Archived"
    assert rows["2"].aliases == [CHAMPION]


def test_missing_model_version_alias_are_named(mlflow_tmp, fitted_models, cdnow_frame):
    registry = ModelRegistry(mlflow_tmp)
    with pytest.raises(RegistryError, match="'nope' does not exist"):
        registry.get_version("nope", 1)
    registry.register(log(fitted_models["good"], cdnow_frame), NAME)
    with pytest.raises(RegistryError, match=r"no version 7 \(versions: \[1\]\)"):
        registry.get_version(NAME, 7)
    with pytest.raises(RegistryError, match="no alias 'champion'"):
        registry.resolve(f"models:/{NAME}@champion")
    with pytest.raises(RegistryError, match="expected models:/"):
        registry.resolve("runs:/abc/model")
    with pytest.raises(RegistryError, match="stage='Prod'"):
        registry.transition_stage(NAME, 1, "Prod")
