"""The tuner backend's protocol and what it returns: one `TrialRecord` per trial, read by the
sweep that logs them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from churnops.trainers.tuning.config import TuneConfig
from churnops.trainers.tuning.objective import TuneData


@dataclass
class TrialRecord:
    """One trial: its params, final metrics (`val/auroc`, ...), seconds and per-epoch history."""

    number: int
    params: dict[str, Any]
    metrics: dict[str, float]
    seconds: float
    history: list[dict[str, float]] = field(default_factory=list)
    stopped_early: bool = False


class TrialSearch(Protocol):
    """A tuner backend (`TuneConfig.backend`): runs the sweep's trials on the tuning split.

    Args:
        cfg: the sweep config.
        base: the train config (a dict) each trial's params are applied to.
        data: the tuning split.
        workdir: the run's folder, for what the backend keeps on disk.
        spark: a SparkSession for the backend to run on; None: its own, if it needs one.

    Returns:
        One `TrialRecord` per trial, in trial order, and the seconds the search took.
    """

    def __call__(
        self, cfg: TuneConfig, base: dict[str, Any], data: TuneData, workdir: Path, spark: Any
    ) -> tuple[list[TrialRecord], float]: ...
