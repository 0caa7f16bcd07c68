"""The tabular churn net: a plain `nn.Module` MLP over preprocessed numeric features.

Categorical columns (vocabulary codes from `TableEncoder`, in the same raw row) go through
embeddings; numeric columns through the fitted `FeaturePreprocessor`. The net outputs one logit
per row, divided by a temperature fitted after training (1 until then).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from torch import nn

from churnops.models.encoding import UNKNOWN_CODE
from churnops.models.preprocessing import FeaturePreprocessor


class TabularChurnNet(nn.Module):
    """MLP with normalisation and dropout; embeddings for categorical columns.

    Args:
        preprocessor: fitted on the training split's numeric columns; travels with the weights.
        numeric_index: positions of the numeric columns in a raw row.
        categorical_index: positions of the categorical columns (integer codes) in a raw row.
        cardinalities: number of codes per categorical column, the missing (0) and unknown (1)
            buckets included; a code outside counts as unknown.
        embedding_dim: width of each categorical embedding.
        hidden_sizes: widths of the hidden layers.
        dropout: dropout after each hidden layer.
        norm: "batch", "layer" or "none".
    """

    numeric_index: torch.Tensor
    categorical_index: torch.Tensor
    cardinalities: torch.Tensor
    temperature: torch.Tensor

    def __init__(
        self,
        preprocessor: FeaturePreprocessor,
        numeric_index: list[int],
        categorical_index: list[int] = (),  # type: ignore[assignment]
        cardinalities: list[int] = (),  # type: ignore[assignment]
        embedding_dim: int = 8,
        hidden_sizes: tuple[int, ...] | list[int] = (128, 64),
        dropout: float = 0.1,
        norm: Literal["batch", "layer", "none"] = "batch",
    ):
        super().__init__()
        if len(categorical_index) != len(cardinalities):
            raise ValueError(
                f"cardinalities: expected one per categorical column ({len(categorical_index)}), "
                f"got {len(cardinalities)}"
            )
        if preprocessor.n_features != len(numeric_index):
            raise ValueError(
                f"preprocessor was fitted on {preprocessor.n_features} columns, "
                f"numeric_index has {len(numeric_index)}"
            )
        self.preprocessor = preprocessor
        self.register_buffer("numeric_index", torch.tensor(list(numeric_index), dtype=torch.long))
        self.register_buffer(
            "categorical_index", torch.tensor(list(categorical_index), dtype=torch.long)
        )
        self.register_buffer("cardinalities", torch.tensor(list(cardinalities), dtype=torch.long))
        self.embeddings = nn.ModuleList(nn.Embedding(c, embedding_dim) for c in cardinalities)
        width = preprocessor.out_features + embedding_dim * len(cardinalities)
        layers: list[nn.Module] = []
        for size in hidden_sizes:
            layers.append(nn.Linear(width, size))
            if norm == "batch":
                layers.append(nn.BatchNorm1d(size))
            elif norm == "layer":
                layers.append(nn.LayerNorm(size))
            layers += [nn.SiLU(), nn.Dropout(dropout)]
            width = size
        layers.append(nn.Linear(width, 1))
        self.mlp = nn.Sequential(*layers)
        # Temperature scaling (`fit_temperature`): part of the weights, so serving applies it.
        self.register_buffer("temperature", torch.tensor(1.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Raw rows [B, F] (NaN = missing) -> logits [B]."""
        parts = [self.preprocessor(x[:, self.numeric_index])]
        if len(self.embeddings):
            codes = torch.nan_to_num(x[:, self.categorical_index]).long()  # NaN: missing (0)
            outside = (codes < 0) | (codes >= self.cardinalities)
            codes = torch.where(outside, torch.full_like(codes, UNKNOWN_CODE), codes)
            parts += [emb(codes[:, i]) for i, emb in enumerate(self.embeddings)]
        return self.mlp(torch.cat(parts, dim=1)).squeeze(-1) / self.temperature


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The temperature T minimising the log loss of sigmoid(logits / T) on held-out rows.

    One parameter, so it changes calibration only, never the ranking (ROC AUC).
    """
    from scipy.optimize import minimize_scalar

    z = np.asarray(logits, dtype=np.float64)
    t = np.asarray(y, dtype=np.float64)
    if len(z) == 0 or len(np.unique(t)) < 2:
        raise ValueError("fit_temperature: needs held-out rows of both classes")

    def log_loss(log_t: float) -> float:
        s = z / np.exp(log_t)
        return float(np.mean(np.logaddexp(0, s) - t * s))  # BCE with logits, stable

    best = minimize_scalar(log_loss, bounds=(-4.0, 4.0), method="bounded")
    return float(np.exp(best.x))
