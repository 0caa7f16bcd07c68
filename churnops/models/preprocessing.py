"""Feature preprocessing fitted on the training split only, stored as buffers of the net.

Because the statistics are buffers, they are saved, loaded and served with the model's weights:
the served model takes the same raw feature rows (missing values included) as training did.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

# A column is log1p-transformed when it is non-negative and this skewed (counts, money, days).
SKEW_THRESHOLD = 1.0


class FeaturePreprocessor(nn.Module):
    """Impute, log1p heavy tails, standardise; add a missing-indicator per column that had gaps.

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
    def fit(cls, x: np.ndarray, log1p: str | list[bool] = "auto") -> FeaturePreprocessor:
        """Fit on the training rows `x` [N, F] (NaN = missing).

        Args:
            x: raw training features.
            log1p: "auto" (non-negative, skewed columns), "none", or one flag per column.
        """
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or len(x) == 0:
            raise ValueError(f"x: expected a non-empty 2-D array, got shape {x.shape}")
        n_features = x.shape[1]
        missing = np.isnan(x)
        module = cls(n_features, [int(i) for i in np.flatnonzero(missing.any(axis=0))])
        fill = np.nan_to_num(np.nanmedian(np.where(missing.all(axis=0), 0.0, x), axis=0))
        filled = np.where(missing, fill, x)
        if isinstance(log1p, str):
            if log1p == "auto":
                mask = (filled.min(axis=0) >= 0) & (_skew(filled) > SKEW_THRESHOLD)
            elif log1p == "none":
                mask = np.zeros(n_features, dtype=bool)
            else:
                raise ValueError(f"log1p={log1p!r}: expected 'auto', 'none' or a list of flags")
        else:
            mask = np.asarray(log1p, dtype=bool)
            if mask.shape != (n_features,):
                raise ValueError(f"log1p: expected {n_features} flags, got {len(mask)}")
        transformed = np.where(mask, np.log1p(np.clip(filled, 0, None)), filled)
        std = transformed.std(axis=0)
        module.fill.copy_(torch.from_numpy(fill).float())
        module.log_mask.copy_(torch.from_numpy(mask))
        module.mean.copy_(torch.from_numpy(transformed.mean(axis=0)).float())
        module.std.copy_(torch.from_numpy(np.where(std > 1e-12, std, 1.0)).float())
        return module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        missing = torch.isnan(x)
        x = torch.where(missing, self.fill, x)
        x = torch.where(self.log_mask, torch.log1p(x.clamp(min=0)), x)
        x = (x - self.mean) / self.std
        if self.missing_columns.numel():
            x = torch.cat([x, missing[:, self.missing_columns].to(x.dtype)], dim=1)
        return x


def _skew(x: np.ndarray) -> np.ndarray:
    centred = x - x.mean(axis=0)
    std = centred.std(axis=0)
    return np.where(std > 0, (centred**3).mean(axis=0) / np.where(std > 0, std, 1) ** 3, 0.0)
