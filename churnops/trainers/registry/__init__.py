"""The MLflow model registry, governed: versions with lineage tags, champion/challenger aliases,
stage transitions where MLflow still has them, and a validation gate that decides promotion."""

from churnops.trainers.registry.config import RegistryConfig, ValidationGateConfig
from churnops.trainers.registry.gate import GateReport, validate_challenger
from churnops.trainers.registry.registry import (
    CHALLENGER,
    CHAMPION,
    ModelRegistry,
    RegistryError,
)

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "GateReport",
    "ModelRegistry",
    "RegistryConfig",
    "RegistryError",
    "ValidationGateConfig",
    "validate_challenger",
]
