"""The net's numeric preprocessing as buffers of the net, so whatever saves the model saves its
preprocessing too (statistics from `churnops.models.encoding`, fitted on the training split).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from churnops.models.encoding import TRANSFORMS, NumericStatistics, resolve_transforms


class FeaturePreprocessor(nn.Module):
    """Impute, transform (log1p / standardise / none per column); add missing-indicators.

    Build it with `FeaturePreprocessor.fit(x)`; the constructor only allocates the buffers (so a
    saved state dict can be loaded into a fresh one).
    """

    fill: torch.Tensor
    log_mask: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor
    missing_columns: torch.Tensor

    def __init__(self, n_features: int, missing_columns: list[int] | tuple[int, ...] = ()):
        super().__init__()
        self.n_features = n_features
        self.register_buffer("fill", torch.zeros(n_features))
        self.register_buffer("log_mask", torch.zeros(n_features, dtype=torch.bool))
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("std", torch.ones(n_features))
        self.register_buffer(
            "missing_columns", torch.tensor(list(missing_columns), dtype=torch.long)
        )

    @property
    def out_features(self) -> int:
        """Width of the transformed rows: the features plus one indicator per gappy column."""
        return self.n_features + int(self.missing_columns.numel())

    @classmethod
    def fit(
        cls,
        x: np.ndarray,
        log1p: str | list[bool] = "auto",
        transforms: Sequence[str] | None = None,
    ) -> FeaturePreprocessor:
        """Fit on the training rows `x` [N, F] (NaN = missing).

        Args:
            x: raw training features.
            log1p: "auto" (non-negative, skewed columns), "none", or one flag per column; used
                when `transforms` is None.
            transforms: one of "auto" | "log1p" | "standardize" | "none" per column.
        """
        x = np.asarray(x)  # float32 as it comes: the statistics read one column at a time
        if x.ndim != 2 or len(x) == 0:
            raise ValueError(f"x: expected a non-empty 2-D array, got shape {x.shape}")
        if transforms is None:
            transforms = _transforms_from_log1p(log1p, x.shape[1])
        stats = NumericStatistics(x, resolve_transforms(x, transforms))
        module = cls(x.shape[1], stats.missing_columns)
        module.fill.copy_(torch.from_numpy(stats.fill).float())
        module.log_mask.copy_(torch.from_numpy(stats.log_mask))
        module.mean.copy_(torch.from_numpy(stats.mean).float())
        module.std.copy_(torch.from_numpy(stats.std).float())
        return module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        missing = torch.isnan(x)
        x = torch.where(missing, self.fill, x)
        x = torch.where(self.log_mask, torch.log1p(x.clamp(min=0)), x)
        x = (x - self.mean) / self.std
        if self.missing_columns.numel():
            x = torch.cat([x, missing[:, self.missing_columns].to(x.dtype)], dim=1)
        return x


def _transforms_from_log1p(log1p: str | list[bool], n_features: int) -> list[str]:
    if isinstance(log1p, str):
        if log1p == "none":
            return ["standardize"] * n_features
        if log1p in TRANSFORMS:
            return [log1p] * n_features
        raise ValueError(f"log1p={log1p!r}: expected 'auto', 'none' or a list of flags")
    flags = list(log1p)
    if len(flags) != n_features:
        raise ValueError(f"log1p: expected {n_features} flags, got {len(flags)}")
    return ["log1p" if f else "standardize" for f in flags]
