"""What a tuner backend returns: one `TrialRecord` per trial, read by the sweep that logs them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class TrialRecord:
    """One trial: its params, final metrics (`val/auroc`, ...), seconds and per-epoch history."""

    number: int
    params: dict[str, Any]
    metrics: dict[str, float]
    seconds: float
    history: list[dict[str, float]] = field(default_factory=list)
    stopped_early: bool = False
