"""The monitor's baseline: the training set scored by the served model, as a Delta table."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa


def write_baseline(training_set: str | Path, model_uri: str, out: str | Path) -> int:
    """Score `training_set` (Parquet) with the pyfunc at `model_uri`; write features, label,
    `probability` and `prediction` to the Delta table `out` (replacing it). Returns its rows.

    Drift of type BASELINE compares each window with this table, and the label-free estimates
    check on it that the model is calibrated.
    """
    import mlflow

    from churnops.data import storage
    from churnops.data.delta_tables import write_table
    from churnops.models.pyfunc import load_feature_spec

    if not storage.exists(training_set):
        raise FileNotFoundError(f"training_set={str(training_set)!r}: no such file or folder")
    frame = storage.read_parquet(training_set).to_pandas()
    columns = load_feature_spec(model_uri).feature_columns
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"training_set={str(training_set)!r}: lacks the model's feature column(s) {missing}"
        )
    scored = mlflow.pyfunc.load_model(model_uri).predict(frame[columns])
    frame = frame.assign(probability=scored["probability"].to_numpy(),
                         prediction=scored["prediction"].to_numpy())  # fmt: skip
    write_table(out, pa.Table.from_pandas(frame, preserve_index=False), mode="overwrite")
    return len(frame)
