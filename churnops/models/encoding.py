"""Raw rows to a numeric matrix, fitted on the training split only and carried by the model.

`TableEncoder` turns raw rows (numbers, strings, blanks) into a float matrix with categorical
columns as vocabulary codes; `NumericStatistics` imputes and transforms numeric columns. Both are
numpy only, so a baseline's environment needs no torch.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from churnops.data.schema import THOUSANDS

# A column is log1p-transformed under "auto" when it is non-negative and this skewed.
SKEW_THRESHOLD = 1.0
# Codes every categorical vocabulary reserves: blank / null, and a value unseen in training.
MISSING_CODE, UNKNOWN_CODE = 0, 1
TRANSFORMS = ("auto", "log1p", "standardize", "none")


class TableEncoder:
    """Raw feature rows -> float32 matrix; categorical values become codes of a learnt vocabulary.

    The vocabulary is learnt by `fit` (on the training split), most frequent value first; code 0
    is missing (None, NaN, blank), code 1 is a value never seen in training. Numeric columns
    pass through as float (blank -> NaN) and get a resolved transform for the models to apply.

    Args:
        columns: feature column names, in the order of a raw row.
        categorical: columns holding categories (strings or codes).
        transforms: per numeric column: "auto" | "log1p" | "standardize" | "none".
        default_transform: the transform of numeric columns not in `transforms`.
    """

    def __init__(
        self,
        columns: Sequence[str],
        categorical: Sequence[str] = (),
        transforms: Mapping[str, str] | None = None,
        default_transform: str = "auto",
    ):
        self.columns = list(columns)
        transforms = dict(transforms or {})
        for key, names in (
            ("features.categorical", categorical),
            ("features.transforms", transforms),
        ):
            unknown = [c for c in names if c not in self.columns]
            if unknown:
                raise ValueError(f"{key}: {unknown} not among features.columns {self.columns}")
        for name, value in {**transforms, "features.log1p": default_transform}.items():
            if value not in TRANSFORMS:
                raise ValueError(f"{name}={value!r}: expected one of {', '.join(TRANSFORMS)}")
        self.categorical = [c for c in self.columns if c in set(categorical)]
        self.requested = transforms
        self.default_transform = default_transform
        self.vocabularies: dict[str, list[str]] = {}
        self.numeric_transforms: dict[str, str] = {}

    @property
    def categorical_index(self) -> list[int]:
        return [self.columns.index(c) for c in self.categorical]

    @property
    def numeric_index(self) -> list[int]:
        return [i for i, c in enumerate(self.columns) if c not in self.categorical]

    def numeric_part(self, codes: np.ndarray) -> np.ndarray:
        """The numeric columns of encoded rows [N, len(numeric_columns)]: `codes` itself when
        every column is numeric (no copy of a 10M-row matrix)."""
        index = self.numeric_index
        return codes if index == list(range(codes.shape[1])) else codes[:, index]

    @property
    def numeric_columns(self) -> list[str]:
        return [self.columns[i] for i in self.numeric_index]

    @property
    def cardinalities(self) -> list[int]:
        """Codes per categorical column: the vocabulary plus the missing and unknown buckets."""
        return [len(self.vocabularies[c]) + 2 for c in self.categorical]

    @property
    def fitted(self) -> bool:
        return len(self.numeric_transforms) + len(self.vocabularies) == len(self.columns)

    def fit(self, x: Any) -> TableEncoder:
        """Learn the vocabularies and resolve "auto" transforms on training rows `x`."""
        raw = self._column_arrays(x)
        self.vocabularies = {}
        for name in self.categorical:
            labels = _labels(raw[name])
            counts = Counter(v for v in labels if v is not None)
            self.vocabularies[name] = sorted(counts, key=lambda v: (-counts[v], v))
        numeric = self.numeric_columns
        self.numeric_transforms = {}
        if numeric:
            for c in numeric:  # one column at a time: no float64 copy of the whole table
                values = parse_numbers(raw[c], c)[:, None]
                requested = [self.requested.get(c, self.default_transform)]
                self.numeric_transforms[c] = resolve_transforms(values, requested)[0]
        return self

    def transform(self, x: Any) -> np.ndarray:
        """Rows [N, F] as float32: numbers as they are (NaN = missing), categories as codes."""
        if not self.fitted:
            raise RuntimeError("TableEncoder.transform called before fit")
        if not self.categorical and isinstance(x, np.ndarray) and x.dtype.kind == "f":
            self._check_width(x)
            return np.asarray(x, dtype=np.float32)  # the all-numeric fast path: no copy by column
        raw = self._column_arrays(x)
        out = np.empty((len(next(iter(raw.values()))) if raw else 0, len(self.columns)), np.float32)
        for i, name in enumerate(self.columns):
            if name in self.vocabularies:
                index = {
                    v: code for code, v in enumerate(self.vocabularies[name], UNKNOWN_CODE + 1)
                }
                out[:, i] = [
                    MISSING_CODE if v is None else index.get(v, UNKNOWN_CODE)
                    for v in _labels(raw[name])
                ]
            else:
                out[:, i] = parse_numbers(raw[name], name)
        return out

    def _check_width(self, x: np.ndarray) -> None:
        if x.ndim != 2 or x.shape[1] != len(self.columns):
            raise ValueError(
                f"x: expected rows of {len(self.columns)} features {self.columns}, got shape "
                f"{x.shape}"
            )

    def _column_arrays(self, x: Any) -> dict[str, np.ndarray]:
        """One 1-D array per feature column, from a DataFrame (by name) or a 2-D array."""
        if hasattr(x, "columns") and not isinstance(x, np.ndarray):
            missing = [c for c in self.columns if c not in list(x.columns)]
            if missing:
                raise ValueError(f"input rows: missing feature column(s) {missing}")
            return {c: np.asarray(x[c]) for c in self.columns}
        x = np.asarray(x)
        self._check_width(x)
        return {c: x[:, i] for i, c in enumerate(self.columns)}


def resolve_transforms(x: np.ndarray, requested: Sequence[str]) -> list[str]:
    """Each "auto" becomes "log1p" (non-negative, skewed column) or "standardize".

    Column by column: a float64 copy of one column at a time, never of the whole matrix.
    """
    resolved = []
    for i, t in enumerate(requested):
        if t == "auto":
            filled, _, _ = _filled_column(x[:, i])
            t = "log1p" if filled.min() >= 0 and _skew(filled) > SKEW_THRESHOLD else "standardize"
        resolved.append(t)
    return resolved


def _filled_column(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """A column as float64 with its gaps filled, its missing mask, and the fill: the median of
    the rest (0 when all are missing)."""
    col = np.asarray(values, dtype=np.float64)
    missing = np.isnan(col)
    if not missing.any():
        return col, missing, float(np.median(col))
    fill = 0.0 if missing.all() else float(np.median(col[~missing]))
    return np.where(missing, fill, col), missing, fill


def _labels(values: np.ndarray) -> list[str | None]:
    """Category labels as stripped strings; None for missing. 1.0 and 1 are the same label."""
    out: list[str | None] = []
    for v in values.tolist():
        if v is None or (isinstance(v, float) and math.isnan(v)):
            out.append(None)
        elif isinstance(v, float) and v.is_integer():
            out.append(str(int(v)))
        else:
            text = str(v).strip()
            out.append(text or None)
    return out


_THOUSANDS = re.compile(THOUSANDS)  # "1,889.5", as a customer table reads it


def parse_numbers(values: Any, name: str) -> np.ndarray:
    """A numeric column as float64: None, NaN and blanks (" ") -> NaN; "1,889.5" -> 1889.5.

    Raises:
        ValueError: a value that is not a number, naming the column, the count and examples.
    """
    values = np.asarray(values)
    if values.dtype.kind in "fiub":
        return values.astype(np.float64)
    import pandas as pd

    series = pd.Series(values, dtype=object)
    blank = series.isna() | series.map(lambda v: isinstance(v, str) and not v.strip())
    text = series.where(~blank, None).map(
        lambda v: v.strip().replace(",", "") if isinstance(v, str) and _THOUSANDS.fullmatch(
            v.strip()) else v
    )  # fmt: skip
    parsed = pd.to_numeric(text, errors="coerce")
    bad = parsed.isna() & ~blank
    if bad.any():
        examples = sorted({str(v) for v in series[bad].head(20)})[:3]
        raise ValueError(
            f"feature column {name!r}: {int(bad.sum())} value(s) are not numbers, e.g. "
            f"{examples}; list the column in features.categorical, or clean it with a "
            "customer-table source (churnops.data.sources.customers)"
        )
    return parsed.to_numpy(dtype=np.float64, na_value=np.nan)


class NumericStatistics:
    """Imputation and transform statistics of numeric columns, fitted in numpy.

    Shared by the net's `FeaturePreprocessor` (as buffers) and the linear baseline, so both see
    the same inputs. Attributes are float64 arrays of one value per column.
    """

    def __init__(self, x: np.ndarray, transforms: Sequence[str]):
        x = np.asarray(x)
        if x.ndim != 2 or len(x) == 0:
            raise ValueError(f"x: expected a non-empty 2-D array, got shape {x.shape}")
        if len(transforms) != x.shape[1]:
            raise ValueError(
                f"transforms: expected {x.shape[1]} (one per column), got {len(transforms)}"
            )
        k = x.shape[1]
        self.log_mask = np.array([t == "log1p" for t in transforms], dtype=bool)
        scale = np.array([t != "none" for t in transforms], dtype=bool)
        self.fill, self.mean, self.std = np.zeros(k), np.zeros(k), np.ones(k)
        self.missing_columns: list[int] = []
        # One column at a time: a few float64 copies of one column, not of the matrix (at 10M
        # rows the whole-matrix version held 5 GB of temporaries).
        for j in range(k):
            filled, missing, self.fill[j] = _filled_column(x[:, j])
            if missing.any():
                self.missing_columns.append(j)
            if self.log_mask[j]:
                filled = np.log1p(np.clip(filled, 0, None))
            if scale[j]:
                std = filled.std()
                self.mean[j] = filled.mean()
                self.std[j] = std if std > 1e-12 else 1.0

    @property
    def width(self) -> int:
        """Columns `apply` returns: the numeric columns and one indicator per gappy column."""
        return len(self.fill) + len(self.missing_columns)

    def apply(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """The transformed rows plus one missing-indicator per column that had gaps, as
        float64, written into `out` ([N, width], e.g. a slice of a design matrix) when given.
        Row blocks at a time, so the temporaries stay a block's size."""
        x = np.asarray(x)
        k = len(self.fill)
        if out is None:
            out = np.empty((len(x), self.width), dtype=np.float64)
        for start in range(0, len(x), _ROWS_PER_BLOCK):
            block = np.asarray(x[start : start + _ROWS_PER_BLOCK], dtype=np.float64)
            missing = np.isnan(block)
            block = np.where(missing, self.fill, block)
            block = np.where(self.log_mask, np.log1p(np.clip(block, 0, None)), block)
            rows = slice(start, start + len(block))
            out[rows, :k] = (block - self.mean) / self.std
            out[rows, k:] = missing[:, self.missing_columns]
        return out


_ROWS_PER_BLOCK = 65536


def _skew(x: np.ndarray) -> float:
    centred = x - x.mean()
    std = centred.std()
    return float((centred**3).mean() / std**3) if std > 0 else 0.0
