"""`model_validation`: the gate, challenger against champion on the training set's test split."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from churnops.config import StrictConfig
from churnops.pipelines.tasks.base import RunInputs
from churnops.trainers.registry.config import ValidationGateConfig


class ModelValidationInputs(RunInputs):
    training_set: str  # the holdout is its test split, as train() split it
    model_name: str = "churnops_churn"
    challenger: str = "challenger"  # an alias or a version number
    gate: ValidationGateConfig = Field(default_factory=ValidationGateConfig)
    seed: int = 42
    test_size: float = Field(default=0.2, gt=0, lt=1)


class ModelValidationOutputs(StrictConfig):
    passed: bool
    status: str  # PASSED | FAILED
    challenger_version: str
    champion_version: str | None
    report_path: str  # the gate's report as JSON, under workdir/validation/
    checks: dict[str, bool]
    validation_run_id: str | None


def model_validation(inputs: ModelValidationInputs) -> ModelValidationOutputs:
    """Run every gate check; tag the version PASSED or FAILED. Never moves an alias: deployment
    does that, and only after a pass."""
    import json

    from churnops.trainers.registry.config import HoldoutConfig
    from churnops.trainers.registry.gate import load_holdout, validate_challenger
    from churnops.trainers.registry.registry import ModelRegistry

    inputs.use_tracking()
    registry = ModelRegistry(inputs.resolved_tracking_uri(), inputs.resolved_registry_uri())
    holdout, y = load_holdout(
        HoldoutConfig(path=inputs.training_set, seed=inputs.seed, test_size=inputs.test_size)
    )
    report = validate_challenger(
        registry, inputs.model_name, holdout, y, inputs.gate,
        challenger=inputs.challenger, promote=False,
    )  # fmt: skip
    folder = Path(inputs.workdir) / "validation"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{inputs.model_name}-v{report.challenger_version}.json"
    path.write_text(json.dumps(report.to_dict(), indent=2, default=float))
    return ModelValidationOutputs(
        passed=report.passed,
        status=report.status,
        challenger_version=report.challenger_version,
        champion_version=report.champion_version,
        report_path=str(path),
        checks={c.name: bool(c.passed) for c in report.checks},
        validation_run_id=report.run_id,
    )
