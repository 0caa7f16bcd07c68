"""The tabular churn net: numeric embeddings into a parameter-efficient ensemble of MLPs (TabM).

Numeric columns go through the fitted `FeaturePreprocessor`, a smooth clip (RealMLP) and periodic
embeddings (PLR-lite, `rtdl_num_embeddings`); categorical columns (vocabulary codes from
`TableEncoder`, in the same raw row) through embeddings. The backbone is TabM's: k BatchEnsemble
MLPs sharing their weight matrices, each with its own head (`tabm` layers). Training fits every
member on every batch; the net answers one logit per row, the logit of the members' mean
probability, divided by a temperature fitted after training (1 until then).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from churnops.models.encoding import UNKNOWN_CODE
from churnops.models.preprocessing import FeaturePreprocessor

Norm = Literal["batch", "layer", "none"]
NumericEmbedding = Literal["periodic", "none"]
CLIP_SCALE = 3.0  # RealMLP's smooth clip: x / sqrt(1 + (x / 3)^2) tames outliers past ~3 std


@dataclass(frozen=True)
class NetArchitecture:
    """The shapes a state dict must fit; read back from a state dict by `from_state_dict`."""

    embedding_dim: int
    hidden_sizes: tuple[int, ...]
    norm: Norm
    numeric_embedding: NumericEmbedding
    numeric_embedding_dim: int
    n_frequencies: int
    ensemble_size: int
    additive: bool = False

    @classmethod
    def from_state_dict(cls, state: Mapping[str, torch.Tensor]) -> NetArchitecture:
        """The architecture whose parameters have the shapes in `state`."""
        heads = [v for k, v in state.items() if k.startswith("mlp.") and k.endswith(".weight")]
        if not heads or heads[-1].ndim != 3:
            raise ValueError(
                "state_dict: no TabularChurnNet ensemble head (mlp.*.weight [k, d, 1])"
            )
        blocks = sorted(
            {int(k.split(".")[1]) for k in state if k.startswith("mlp.") and k.endswith(".r")}
        )
        hidden = tuple(int(state[f"mlp.{i}.weight"].shape[0]) for i in blocks)
        norm: Norm = "none"
        if any(k.startswith("mlp.") and k.endswith(".impl.running_mean") for k in state):
            norm = "batch"
        elif blocks and any(k.startswith(f"mlp.{blocks[0] + 1}.") for k in state):
            norm = "layer"  # the layer after the first linear has parameters: a LayerNorm
        periodic = state.get("numeric_embeddings.periodic.weight")
        linear = state.get("numeric_embeddings.linear.weight")
        embedding = state.get("embeddings.0.weight")
        return cls(
            embedding_dim=int(embedding.shape[1]) if embedding is not None else 8,
            hidden_sizes=hidden,
            norm=norm,
            numeric_embedding="periodic" if periodic is not None else "none",
            numeric_embedding_dim=int(linear.shape[0]) if linear is not None else 16,
            n_frequencies=int(periodic.shape[1]) if periodic is not None else 16,
            ensemble_size=int(heads[-1].shape[0]),
            additive="additive.weight" in state,
        )


class TabularChurnNet(nn.Module):
    """TabM-style ensemble MLP over numeric embeddings and categorical embeddings.

    Args:
        preprocessor: fitted on the training split's numeric columns; travels with the weights.
        numeric_index: positions of the numeric columns in a raw row.
        categorical_index: positions of the categorical columns (integer codes) in a raw row.
        cardinalities: number of codes per categorical column, the missing (0) and unknown (1)
            buckets included; a code outside counts as unknown.
        embedding_dim: width of each categorical embedding.
        hidden_sizes: widths of the hidden layers (shared by the ensemble members); none: k
            linear heads on the embeddings.
        dropout: dropout after each hidden layer.
        norm: "batch", "layer" or "none" (TabM uses none).
        numeric_embedding: "periodic" (PLR-lite, Gorishniy et al. 2022) or "none" (the scaled
            values as they are).
        numeric_embedding_dim: width of each numeric column's embedding.
        n_frequencies: frequencies per numeric column of the periodic embedding.
        frequency_scale: the periodic embedding's initial frequency scale (sigma): larger fits
            sharper functions of a column.
        ensemble_size: k, the members of the BatchEnsemble (TabM, Gorishniy et al. 2024).
        additive: add one linear layer over the MLP's input (each column's embedding and the
            scaled numeric values) to every member's logit: an additive model beside the MLP,
            so a near-linear table is fitted as well as logistic regression fits it.
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
        hidden_sizes: tuple[int, ...] | list[int] = (128, 128),
        dropout: float = 0.1,
        norm: Norm = "none",
        numeric_embedding: NumericEmbedding = "periodic",
        numeric_embedding_dim: int = 16,
        n_frequencies: int = 16,
        frequency_scale: float = 0.1,
        ensemble_size: int = 16,
        additive: bool = True,
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
        if ensemble_size < 1:
            raise ValueError(f"ensemble_size: expected at least 1, got {ensemble_size}")
        self.preprocessor = preprocessor
        self.register_buffer("numeric_index", torch.tensor(list(numeric_index), dtype=torch.long))
        self.register_buffer(
            "categorical_index", torch.tensor(list(categorical_index), dtype=torch.long)
        )
        self.register_buffer("cardinalities", torch.tensor(list(cardinalities), dtype=torch.long))
        self.dropout = dropout
        self.frequency_scale = frequency_scale
        self._build(
            NetArchitecture(
                embedding_dim,
                tuple(hidden_sizes),
                norm,
                numeric_embedding,
                numeric_embedding_dim,
                n_frequencies,
                ensemble_size,
                additive,
            )
        )
        # Temperature scaling (`fit_temperature`): part of the weights, so serving applies it.
        self.register_buffer("temperature", torch.tensor(1.0))

    def _build(self, arch: NetArchitecture) -> None:
        """(Re)create every weight-bearing layer for `arch`."""
        import tabm
        from rtdl_num_embeddings import PeriodicEmbeddings

        self.arch = arch
        n_numeric = self.preprocessor.out_features  # missing-indicators included
        self.embeddings = nn.ModuleList(
            nn.Embedding(int(c), arch.embedding_dim) for c in self.cardinalities.tolist()
        )
        chunks = [arch.embedding_dim] * len(self.embeddings)
        if arch.numeric_embedding == "periodic" and n_numeric:
            self.numeric_embeddings: nn.Module | None = PeriodicEmbeddings(
                n_numeric,
                arch.numeric_embedding_dim,
                n_frequencies=arch.n_frequencies,
                frequency_init_scale=self.frequency_scale,
                lite=True,
            )
            chunks = [arch.numeric_embedding_dim] * n_numeric + chunks
        else:
            self.numeric_embeddings = None
            chunks = [1] * n_numeric + chunks
        k, width = arch.ensemble_size, sum(chunks)
        layers: list[nn.Module] = [tabm.EnsembleView(k=k)]
        for i, size in enumerate(arch.hidden_sizes):
            # TabM: the first layer's R starts as random signs, one per input feature's chunk,
            # so the members differ from step one; every other R and S starts at ones.
            first = i == 0
            layers.append(
                tabm.LinearBatchEnsemble(
                    width,
                    size,
                    k=k,
                    scaling_init=("random-signs", "ones") if first else "ones",
                    first_scaling_init_chunks=chunks if first else None,
                )
            )
            if arch.norm == "batch":
                layers.append(tabm.BatchNorm1dEnsemble(size, k=k))
            elif arch.norm == "layer":
                layers.append(tabm.LayerNormEnsemble(size, k=k))
            layers += [nn.ReLU(), nn.Dropout(self.dropout)]
            width = size
        layers.append(tabm.LinearEnsemble(width, 1, k=k))  # one head per member
        self.mlp = nn.Sequential(*layers)
        # Shared by the members: its input is the MLP's, plus the scaled numeric values where
        # the MLP sees their embeddings instead (so each column's own value keeps a weight).
        raw = n_numeric if self.numeric_embeddings is not None else 0
        self.additive = nn.Linear(sum(chunks) + raw, 1) if arch.additive else None

    def architecture(self) -> dict[str, Any]:
        """Constructor arguments (besides the preprocessor and column positions) of this net."""
        return {**asdict(self.arch), "hidden_sizes": list(self.arch.hidden_sizes)}

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True, assign=False):
        """Load weights, first reshaping the layers to the architecture they were trained with.

        A net rebuilt from its column positions alone (as a served model is) takes any trained
        width, depth, ensemble size and embedding this way.
        """
        arch = NetArchitecture.from_state_dict(state_dict)
        if arch != self.arch:
            device = self.temperature.device
            self._build(arch)
            self.to(device)
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    def inputs(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw rows [B, F] (NaN = missing) -> the MLP's input (every column's embedding, or the
        scaled values without numeric embeddings) and the additive term's input (the MLP's, plus
        the scaled values when the MLP sees their embeddings)."""
        numeric = self.preprocessor(x[:, self.numeric_index])
        numeric = numeric / torch.sqrt(1 + (numeric / CLIP_SCALE) ** 2)
        raw: list[torch.Tensor] = []
        if self.numeric_embeddings is not None and numeric.shape[1]:
            parts = [self.numeric_embeddings(numeric).flatten(1)]
            raw = [numeric]
        else:
            parts = [numeric]
        if len(self.embeddings):
            codes = torch.nan_to_num(x[:, self.categorical_index]).long()  # NaN: missing (0)
            outside = (codes < 0) | (codes >= self.cardinalities)
            codes = torch.where(outside, torch.full_like(codes, UNKNOWN_CODE), codes)
            parts += [emb(codes[:, i]) for i, emb in enumerate(self.embeddings)]
        features = torch.cat(parts, dim=1)
        return features, torch.cat([features, *raw], dim=1) if raw else features

    def member_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Raw rows [B, F] (NaN = missing) -> each member's logit [B, k], no temperature."""
        features, additive_input = self.inputs(x)
        logits = self.mlp(features).squeeze(-1)
        if self.additive is not None:  # [B, 1]: the same term for every member
            logits = logits + self.additive(additive_input)
        return logits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Raw rows [B, F] (NaN = missing) -> logits [B] of the members' mean probability."""
        return pool_member_logits(self.member_logits(x)) / self.temperature


# Rows per forward pass outside training: each row holds k members x width activations per
# layer, so 65536 rows took 1.6 GB at the default width; 8192 keep a pass near 200 MB.
FORWARD_ROWS = 8192


def forward_in_blocks(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """`net(x)` for any number of rows, FORWARD_ROWS at a time (a request's few rows in one
    call, without the split and concatenation)."""
    if len(x) <= FORWARD_ROWS:
        return net(x).float()
    return torch.cat([net(block).float() for block in x.split(FORWARD_ROWS)])


def pool_member_logits(logits: torch.Tensor) -> torch.Tensor:
    """[B, k] member logits -> [B] logit of their mean probability (TabM averages probabilities).

    logit(mean sigmoid z) = log mean sigmoid(z) - log mean sigmoid(-z), both via logsumexp.
    """
    if logits.shape[-1] == 1:
        return logits[..., 0]
    log_sigmoid = torch.nn.functional.logsigmoid
    return torch.logsumexp(log_sigmoid(logits), -1) - torch.logsumexp(log_sigmoid(-logits), -1)


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
