"""The validation gate: challenger against champion on the same holdout, then promote or refuse.

Checks: ROC AUC not worse than the champion's by more than `max_auc_drop`, expected calibration
error within bounds, a latency budget on a sample batch, signature compatibility (the challenger
accepts every input the champion accepted and answers the same outputs), and no NaN outputs. The
report is logged as `validation_report.json` in an MLflow run; the challenger version is tagged
`validation_status` PASSED or FAILED, and `champion` moves only when every check passes.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from churnops.trainers.evaluation import binary_metrics, expected_calibration_error
from churnops.trainers.registry.config import HoldoutConfig, ValidationGateConfig
from churnops.trainers.registry.registry import CHALLENGER, CHAMPION, ModelRegistry

REPORT_FILE = "validation_report.json"
PASSED, FAILED = "PASSED", "FAILED"
AUC = "test/auroc"  # the metric train logs and the gate compares: scored on the test holdout


@dataclass
class Check:
    """One gate check: its value, the bound it was held to, and whether it passed."""

    name: str
    passed: bool
    value: Any
    threshold: Any
    detail: str = ""


@dataclass
class GateReport:
    """What the gate decided and why."""

    model_name: str
    challenger_version: str
    champion_version: str | None
    checks: list[Check]
    challenger_metrics: dict[str, float]
    champion_metrics: dict[str, float] | None
    holdout_rows: int
    promoted: bool = False
    run_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def status(self) -> str:
        return PASSED if self.passed else FAILED

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed, "status": self.status}


def load_holdout(cfg: HoldoutConfig) -> tuple[pd.DataFrame, np.ndarray]:
    """(input rows, labels): the training set's test split (as `train()` draws it) or all rows."""
    from churnops.trainers.splits import split_train_test

    if not cfg.path:
        raise ValueError("holdout.path: expected a training-set Parquet to validate on, got none")
    path = Path(cfg.path)
    if not path.exists():
        raise FileNotFoundError(f"holdout.path={str(path)!r}: no such file")
    frame = pd.read_parquet(path)
    if cfg.label not in frame.columns:
        raise ValueError(
            f"holdout.label={cfg.label!r}: not a column of {path} (columns: {list(frame.columns)})"
        )
    y = frame[cfg.label].to_numpy().astype(np.int64)
    if cfg.split == "test":
        _, test = split_train_test(y, cfg.test_size, cfg.seed)
        frame, y = frame.iloc[test].reset_index(drop=True), y[test]
    return frame.drop(columns=[cfg.label]), y


def _model_input(pyfunc: Any, frame: pd.DataFrame) -> pd.DataFrame:
    schema = pyfunc.metadata.get_input_schema()
    if schema is None or not schema.has_input_names():
        return frame
    names = [n for n in schema.input_names() if n in frame.columns]
    return frame[names]


def _score(pyfunc: Any, frame: pd.DataFrame, y: np.ndarray) -> tuple[np.ndarray, dict[str, float]]:
    out = pyfunc.predict(_model_input(pyfunc, frame))
    p = np.asarray(out["probability"] if isinstance(out, pd.DataFrame) else out, dtype=float)
    metrics = binary_metrics(y, p, AUC.split("/")[0]) if np.isfinite(p).all() else {}
    return p, metrics


def _latency_ms(pyfunc: Any, frame: pd.DataFrame, gate: ValidationGateConfig) -> float:
    rows = frame.sample(n=gate.latency_rows, replace=len(frame) < gate.latency_rows, random_state=0)
    batch = _model_input(pyfunc, rows.reset_index(drop=True))
    pyfunc.predict(batch.head(8))  # warm-up: first-call imports and lazy loads
    times = []
    for _ in range(gate.latency_repeats):
        start = time.perf_counter()
        pyfunc.predict(batch)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def signature_problems(challenger: Any, champion: Any) -> list[str]:
    """Why the challenger cannot stand in for the champion's callers (empty when it can)."""

    def columns(schema: Any) -> dict[str, tuple[str, bool]]:
        if schema is None or not schema.has_input_names():
            return {}
        return {s.name: (getattr(s.type, "name", str(s.type)), s.required) for s in schema.inputs}

    problems = []
    new_in = columns(challenger.metadata.get_input_schema())
    old_in = columns(champion.metadata.get_input_schema())
    if challenger.metadata.get_input_schema() is None:
        problems.append("challenger has no input signature")
    for name, (kind, _) in old_in.items():
        if name not in new_in:
            problems.append(f"input {name!r} ({kind}) is not accepted by the challenger")
        elif new_in[name][0] not in (kind, "Any"):  # Any: the challenger takes every type
            problems.append(f"input {name!r}: champion takes {kind}, challenger {new_in[name][0]}")
    for name, (_, required) in new_in.items():
        if required and name not in old_in:
            problems.append(f"input {name!r} is required by the challenger, unknown to callers")
    old_out = champion.metadata.get_output_schema()
    new_out = challenger.metadata.get_output_schema()
    if old_out is not None and (new_out is None or old_out.to_dict() != new_out.to_dict()):
        problems.append(f"outputs differ: champion {old_out}, challenger {new_out}")
    return problems


def validate_challenger(
    registry: ModelRegistry,
    name: str,
    holdout: pd.DataFrame,
    y: np.ndarray,
    gate: ValidationGateConfig,
    *,
    challenger: str = CHALLENGER,
    promote: bool = True,
    experiment: str = "churnops-registry",
    set_stages: bool = False,
) -> GateReport:
    """Run every check on `challenger` (an alias or version) against the `champion` alias.

    With no champion yet, the comparison checks pass trivially and the rest still apply, so the
    first model can become champion. The report goes to MLflow; the version is tagged with the
    result; with `promote`, a passing challenger becomes champion.

    Raises:
        RegistryError: the model, or the challenger version/alias, does not exist.
    """
    import mlflow.pyfunc

    new = registry.get_version(name, challenger)
    old_version = registry.alias_version(name, CHAMPION)
    new_model = mlflow.pyfunc.load_model(f"models:/{name}/{new.version}")
    old_model = None
    if old_version is not None and str(old_version) != str(new.version):
        old_model = mlflow.pyfunc.load_model(f"models:/{name}/{old_version}")
    checks: list[Check] = []
    if old_model is not None and gate.require_signature_match:
        problems = signature_problems(new_model, old_model)
        checks.append(Check("signature", not problems, problems, [], "; ".join(problems)))
    try:
        p, new_metrics = _score(new_model, holdout, y)
    except Exception as exc:  # a challenger that cannot score the holdout fails the gate
        checks.append(Check("predicts_holdout", False, None, None, str(exc)[:1000]))
        p, new_metrics = None, {}
    old_metrics = None
    if p is not None:
        finite = bool(np.isfinite(p).all()) and bool(((p >= 0) & (p <= 1)).all())
        checks.append(Check("no_nan_outputs", finite, int((~np.isfinite(p)).sum()), 0,
                            "probabilities finite and within [0, 1]"))  # fmt: skip
        auc = new_metrics.get(AUC, float("nan"))
        if old_model is not None:
            _, old_metrics = _score(old_model, holdout, y)
            bound = old_metrics[AUC] - gate.max_auc_drop
            detail = f"champion v{old_version}: {old_metrics[AUC]:.4f}"
            checks.append(Check(AUC, bool(auc >= bound), auc, bound, detail))
        else:
            detail = "no champion to compare with" if old_version is None else "already champion"
            checks.append(Check(AUC, finite, auc, None, detail))
        ece = expected_calibration_error(y, p, gate.calibration_bins) if finite else float("nan")
        bins = f"{gate.calibration_bins} equal-width bins"  # the `ece` train logs
        ok = bool(ece <= gate.max_calibration_error)
        checks.append(Check("calibration_error", ok, ece, gate.max_calibration_error, bins))
        latency = _latency_ms(new_model, holdout, gate)
        checks.append(Check("latency_ms", bool(latency <= gate.latency_budget_ms), latency,
                            gate.latency_budget_ms, f"median of {gate.latency_repeats} predicts "
                            f"on {gate.latency_rows} rows"))  # fmt: skip

    report = GateReport(
        model_name=name,
        challenger_version=str(new.version),
        champion_version=str(old_version) if old_version is not None else None,
        checks=checks,
        challenger_metrics=new_metrics,
        champion_metrics=old_metrics,
        holdout_rows=len(y),
    )
    report.run_id = _log_report(report, experiment)
    registry.set_status(name, new.version, report.status, validation_run_id=report.run_id)
    if report.passed and promote:
        registry.promote(name, new.version, CHAMPION)
        report.promoted = True
        if set_stages:
            registry.transition_stage(name, new.version, "Production", archive_existing=True)
    return report


def _log_report(report: GateReport, experiment: str) -> str:
    import mlflow

    from churnops.trainers.tracking import ensure_experiment

    exp_id = ensure_experiment(experiment)
    run_name = f"validate-{report.model_name}-v{report.challenger_version}"
    nested = mlflow.active_run() is not None  # under the caller's run (e.g. a sweep) if any
    with mlflow.start_run(experiment_id=exp_id, run_name=run_name, nested=nested) as run:
        mlflow.set_tags({"model_name": report.model_name, "validation_status": report.status,
                         "challenger_version": report.challenger_version,
                         "champion_version": str(report.champion_version)})  # fmt: skip
        for key, value in report.challenger_metrics.items():
            mlflow.log_metric(f"challenger/{key}", value)
        for key, value in (report.champion_metrics or {}).items():
            mlflow.log_metric(f"champion/{key}", value)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp, REPORT_FILE)
            path.write_text(json.dumps(report.to_dict(), indent=2, default=float))
            mlflow.log_artifact(str(path))
        return run.info.run_id
