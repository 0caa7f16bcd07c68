"""Training sets as arrays: read one (Parquet, Delta, customer CSV) for the fit.

Order logs become training sets in `training_set.py`, through the feature store.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from churnops.data.delta_tables import read_table
from churnops.data.features.customer_table import CSV_SUFFIXES

logger = logging.getLogger(__name__)


@dataclass
class TrainingArrays:
    """A training set as arrays: raw features (NaN = missing), labels 0/1 and row ids."""

    x: np.ndarray  # float32 [N, F]; object when a column holds text (categories)
    y: np.ndarray  # int64 [N]
    ids: np.ndarray
    feature_columns: list[str]
    report: Any = None  # a customer CSV's CustomerTableReport: what was rejected or made missing


def choose_loader(loader: str, rows: int, columns: int, budget_mb: float | None) -> str:
    """The loader a fit uses: `in-memory` becomes `arrow-stream` when the fit rows' tensors
    (rows x (columns + label) float32) would exceed `budget_mb` (None: never switch).

    The in-memory loader holds the whole split as tensors beside the arrays it came from; the
    streaming loader reads the split back from Parquet one batch at a time.
    """
    if loader != "in-memory" or budget_mb is None:
        return loader
    needed = rows * (columns + 1) * 4
    if needed <= budget_mb * (1 << 20):
        return loader
    # A warning, so it shows without logging configured: the run differs from what was asked.
    logger.warning(
        "training set: %s rows x %s features need %.0f MiB as tensors, over trainer."
        "memory_budget_mb=%s: streaming it with the arrow-stream loader instead of in-memory",
        f"{rows:,}", columns, needed / (1 << 20), budget_mb,
    )  # fmt: skip
    return "arrow-stream"


def load_training_arrays(
    path: str | Path,
    feature_columns: list[str],
    label_column: str = "churn",
    id_column: str | None = "customer_id",
) -> TrainingArrays:
    """Read a training set: Parquet, a Delta table, or a customer CSV.

    Numeric columns become floats (NaN = missing); text columns stay text (an object matrix)
    for the model's encoder to turn into categories. A label of Yes/No, true/false or 1/0 is
    mapped to 1/0. `id_column=None` numbers the rows. A CSV is read as a customer table
    (`churnops.data.sources.customers`): blanks and unparseable numbers become missing values,
    rows with a bad label are rejected, all counted in `TrainingArrays.report`.

    Raises:
        FileNotFoundError: nothing at `path`.
        ValueError: a missing column, a label that is not 0/1, or no rows; the message names
            the column and the values.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"data.path={str(path)!r}: no training set there")
    columns = list(dict.fromkeys([*feature_columns, label_column]))  # an id may be a feature
    if path.is_file() and path.suffix.lower() in CSV_SUFFIXES:
        return _load_customer_csv(path, feature_columns, label_column, id_column)
    delta = None
    if (path / "_delta_log").is_dir():  # a Delta table: read its current version only
        from deltalake import DeltaTable

        delta = DeltaTable(str(path))
        schema = pa.schema(delta.schema().to_arrow())
    else:
        try:
            schema = pq.read_schema(path) if path.is_file() else pq.ParquetDataset(path).schema
        except (pa.ArrowInvalid, OSError) as exc:
            raise ValueError(
                f"data.path={str(path)!r}: not a Parquet file or Delta table ({exc}); a CSV "
                f"needs one of the suffixes {', '.join(CSV_SUFFIXES)}"
            ) from None
    needed = list(dict.fromkeys([*([id_column] if id_column else []), *columns]))
    missing = [c for c in needed if c not in schema.names]
    if missing:
        raise ValueError(
            f"data.path={str(path)!r}: missing column(s) {missing}; has {schema.names}"
            + _columns_hint(feature_columns, missing)
        )
    if all(_numeric(schema.field(c).type) for c in feature_columns):
        return _load_numeric(path, delta, feature_columns, label_column, id_column)
    table = read_table(delta, columns=needed) if delta else pq.read_table(path, columns=needed)
    if table.num_rows == 0:
        raise ValueError(f"data.path={str(path)!r}: the training set has no rows")
    ids = (
        table[id_column].to_numpy(zero_copy_only=False)
        if id_column
        else np.arange(table.num_rows).astype(str)
    )
    return TrainingArrays(
        x=_feature_matrix(table, feature_columns),
        y=_labels(table[label_column], label_column),
        ids=ids,
        feature_columns=list(feature_columns),
    )


def _numeric(kind: pa.DataType) -> bool:
    return pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)


def _load_numeric(
    path: Path, delta: Any, feature_columns: list[str], label_column: str, id_column: str | None
) -> TrainingArrays:
    """All-numeric features straight into one float32 matrix, batch by batch: never the whole
    table in Arrow beside float64 copies of every column (5x the matrix at 10M rows)."""
    import pyarrow.dataset as ds

    from churnops.data.delta_tables import arrow_dataset

    dataset = arrow_dataset(delta) if delta else ds.dataset(path, format="parquet")
    label = dataset.to_table(columns=[label_column])[label_column]
    n = len(label)
    if n == 0:
        raise ValueError(f"data.path={str(path)!r}: the training set has no rows")
    y = _labels(label, label_column)
    ids = (
        dataset.to_table(columns=[id_column])[id_column].to_numpy(zero_copy_only=False)
        if id_column
        else np.arange(n).astype(str)
    )
    x = np.empty((n, len(feature_columns)), dtype=np.float32)
    row = 0
    for batch in dataset.to_batches(columns=list(feature_columns), batch_size=1 << 17):
        for j, name in enumerate(feature_columns):
            values = batch.column(name).cast(pa.float64())
            x[row : row + batch.num_rows, j] = values.to_numpy(zero_copy_only=False)
        row += batch.num_rows
    return TrainingArrays(x=x, y=y, ids=ids, feature_columns=list(feature_columns))


def _load_customer_csv(
    path: Path, feature_columns: list[str], label_column: str, id_column: str | None
) -> TrainingArrays:
    from churnops.data.sources.customers import CustomerTableConfig, read_customer_table
    from churnops.data.sources.validation import SourceError

    cfg = CustomerTableConfig(
        kind="csv", path=str(path), id_column=id_column, label_column=label_column,
        features=list(feature_columns),
    )  # fmt: skip
    try:
        clean = read_customer_table(cfg)
    except SourceError as exc:
        raise ValueError(
            f"data.path={str(path)!r}: {exc}{_columns_hint(feature_columns)}"
        ) from None
    table = clean.table
    return TrainingArrays(
        x=_feature_matrix(table, feature_columns),
        y=table[label_column].to_numpy().astype(np.int64),
        ids=table[clean.report.id_column].to_numpy(zero_copy_only=False),
        feature_columns=list(feature_columns),
        report=clean.report,
    )


def _columns_hint(feature_columns: list[str], missing: list[str] | None = None) -> str:
    if missing is not None and not set(missing) & set(feature_columns):
        return ""
    return (
        "; set features.columns=[...] to your table's feature columns (`churnops features "
        "customers PATH` lists them with their inferred types)"
    )


def _feature_matrix(table: pa.Table, feature_columns: list[str]) -> np.ndarray:
    """float32 [N, F] when every column is numeric; else an object matrix, text kept as text."""
    arrays = []
    text = False
    for name in feature_columns:
        column = table[name]
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            arrays.append(np.asarray(column.to_pylist(), dtype=object))
            text = True
        elif pa.types.is_boolean(column.type) or pa.types.is_dictionary(column.type):
            arrays.append(np.asarray(column.cast(pa.string()).to_pylist(), dtype=object))
            text = True
        else:
            try:
                values = column.cast(pa.float64())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise ValueError(
                    f"feature column {name!r} of type {column.type}: expected numbers or text "
                    f"({exc})"
                ) from None
            arrays.append(values.to_numpy(zero_copy_only=False))
    if not text:
        return np.column_stack(arrays).astype(np.float32)
    matrix = np.empty((table.num_rows, len(arrays)), dtype=object)
    for i, values in enumerate(arrays):
        matrix[:, i] = values
    return matrix


def _labels(column: pa.ChunkedArray, label_column: str) -> np.ndarray:
    """0/1 labels; text labels (Yes/No, true/false, 1/0) mapped, anything else an error."""
    from churnops.data.sources.customers import DEFAULT_LABEL_VALUES

    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        raw = column.to_pylist()
        mapped = [
            DEFAULT_LABEL_VALUES.get(v.strip().lower()) if isinstance(v, str) else None for v in raw
        ]
        bad = sorted({str(v) for v, m in zip(raw, mapped, strict=True) if m is None})
        if bad:
            raise ValueError(
                f"{label_column}: expected 0/1 labels or one of {sorted(DEFAULT_LABEL_VALUES)}, "
                f"found {bad[:5]} in {sum(m is None for m in mapped)} row(s)"
            )
        return np.asarray(mapped, dtype=np.int64)
    if pa.types.is_boolean(column.type):
        column = column.cast(pa.int64())
    y = column.to_numpy(zero_copy_only=False)
    if np.isnan(y.astype(float)).any() or not np.isin(y, (0, 1)).all():
        bad = sorted({v for v in y.tolist() if v not in (0, 1)}, key=str)[:5]
        raise ValueError(f"{label_column}: expected 0/1 labels, found {bad}")
    return y.astype(np.int64)
