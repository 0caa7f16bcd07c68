"""`RegistryConfig`: which registered model, where the registry is, and the gate's thresholds."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from churnops.config import CONFIG_DIR, StrictConfig, load_config

DEFAULT_CONFIG = CONFIG_DIR / "registry" / "default.yaml"


class ValidationGateConfig(StrictConfig):
    """What a challenger must show, on the champion's holdout, to take the champion alias."""

    max_auc_drop: float = Field(default=0.01, ge=0)  # ROC AUC may trail the champion's by this
    max_calibration_error: float = Field(default=0.15, gt=0)  # expected calibration error
    calibration_bins: int = Field(default=10, ge=2)
    latency_budget_ms: float = Field(default=1000.0, gt=0)  # one predict on the sample batch
    latency_rows: int = Field(default=1000, gt=0)
    latency_repeats: int = Field(default=3, ge=1)  # the median of these is compared
    require_signature_match: bool = True  # the challenger accepts every input the champion did


class HoldoutConfig(StrictConfig):
    """The rows both models are scored on: a training-set Parquet, its test split by default."""

    path: str | None = None
    label: str = "churn"
    split: str = Field(default="test", pattern="^(test|all)$")  # test: the train() hold-out
    test_size: float = Field(default=0.2, gt=0, lt=1)
    seed: int = 42


class RegistryConfig(StrictConfig):
    """The registered model the commands act on and the gate that guards its champion alias."""

    model_name: str = "churnops_churn"
    tracking_uri: str | None = None  # None: sqlite:///<workdir>/mlflow.db
    workdir: str = ".churnops/train"  # where the embedded MLflow store lives (as train uses)
    experiment: str = "churnops-registry"  # validation runs and their reports
    holdout: HoldoutConfig = Field(default_factory=HoldoutConfig)
    gate: ValidationGateConfig = Field(default_factory=ValidationGateConfig)
    promote: bool = True  # move champion when every check passes
    set_stages: bool = False  # also transition stages (Production/Archived) where MLflow can


def load_registry_config(
    path: str | Path | None = None,
    overrides: list[str] = (),  # type: ignore[assignment]
) -> RegistryConfig:
    """configs/registry/default.yaml (or `path`) with `a.b=value` overrides, validated."""
    return load_config(RegistryConfig, path or DEFAULT_CONFIG, list(overrides))
