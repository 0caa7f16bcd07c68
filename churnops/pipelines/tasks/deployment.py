"""`model_deployment`: move an alias to a validated version and write the endpoint's traffic."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from churnops.config import StrictConfig
from churnops.data.feature_store.config import OnlineStoreConfig
from churnops.pipelines.tasks.base import RunInputs


class DeploymentRefused(RuntimeError):
    """The version was not validated (no PASSED gate tag): nothing was changed."""


class ModelDeploymentInputs(RunInputs):
    model_name: str = "churnops_churn"
    version: str  # the version model_validation passed
    policy: Literal["champion", "challenger"] = "challenger"
    challenger_traffic: int = Field(default=20, ge=0, le=100)  # percent, policy challenger
    endpoint_name: str = "churn"
    online: dict | None = None  # an OnlineStoreConfig (from feature_engineering); None: no lookup
    feature_table: str = "churnops.cdnow.customer_features_monthly"


class ModelDeploymentOutputs(StrictConfig):
    champion_version: str
    challenger_version: str | None
    traffic: dict[str, int]  # served entity -> percent
    endpoint_config: str  # the YAML written


def model_deployment(inputs: ModelDeploymentInputs) -> ModelDeploymentOutputs:
    """Set the alias the policy names on `version`, then write the endpoint config.

    Policy `champion` promotes the version (so does `challenger` while there is no champion);
    policy `challenger` makes it the challenger with `challenger_traffic` percent next to the
    champion (an A/B test). The endpoint config (served entities by alias, routes, inference
    log, online lookup) is written as YAML for `churnops serve --config` and `serving_check`.

    Raises:
        DeploymentRefused: `version` has no PASSED validation tag (the champion stays as it was).
    """
    import yaml

    from churnops.serving.config import EndpointConfig
    from churnops.trainers.registry.registry import (
        CHALLENGER,
        CHAMPION,
        STATUS_TAG,
        ModelRegistry,
    )

    inputs.use_tracking()
    registry = ModelRegistry(inputs.resolved_tracking_uri(), inputs.resolved_registry_uri())
    version = registry.get_version(inputs.model_name, inputs.version)
    status = version.tags.get(STATUS_TAG)
    if status != "PASSED":
        raise DeploymentRefused(
            f"version={inputs.version!r}: {inputs.model_name} v{inputs.version} has "
            f"{STATUS_TAG}={status!r}; expected 'PASSED' (run model_validation first)"
        )
    champion = registry.alias_version(inputs.model_name, CHAMPION)
    if inputs.policy == "champion" or champion is None:  # nothing to A/B against: promote
        registry.promote(inputs.model_name, version.version, CHAMPION)
    else:
        registry.set_alias(inputs.model_name, CHALLENGER, version.version)
    champion = registry.alias_version(inputs.model_name, CHAMPION)
    challenger = registry.alias_version(inputs.model_name, CHALLENGER)
    assert champion is not None  # set just above, or already there
    entities = [{"name": CHAMPION, "entity_name": inputs.model_name, "alias": CHAMPION}]
    traffic = {CHAMPION: 100}
    if challenger is not None and challenger != champion and inputs.challenger_traffic:
        entities.append({"name": CHALLENGER, "entity_name": inputs.model_name, "alias": CHALLENGER})
        traffic = {CHAMPION: 100 - inputs.challenger_traffic, CHALLENGER: inputs.challenger_traffic}
    folder = Path(inputs.workdir) / "serving"
    endpoint = {
        "name": inputs.endpoint_name,
        "tracking_uri": inputs.resolved_registry_uri(),
        "served_entities": entities,
        "traffic_config": {
            "routes": [
                {"served_model_name": n, "traffic_percentage": p} for n, p in traffic.items()
            ]
        },
        "auto_capture_config": {"path": str((folder / "inference_log").resolve())},
        "feature_lookup": {
            "enabled": inputs.online is not None,
            "online": OnlineStoreConfig.model_validate(inputs.online or {}).model_dump(),
            "table": inputs.feature_table,
        },
    }
    EndpointConfig.model_validate(endpoint)  # a bad endpoint fails here, before anything is written
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{inputs.endpoint_name}.yaml"
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(yaml.safe_dump(endpoint, sort_keys=False))
    tmp.replace(path)
    return ModelDeploymentOutputs(
        champion_version=champion,
        challenger_version=challenger if challenger != champion else None,
        traffic=traffic,
        endpoint_config=str(path),
    )
