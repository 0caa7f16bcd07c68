"""`log_model(store, model, ...)`: a model packaged with its training set's feature spec."""

from __future__ import annotations

from typing import Any

from churnops.models.feature_spec import FeatureSpec
from churnops.models.pyfunc import as_predictor, log_pyfunc_model


def flavor_name(flavor: Any) -> str | None:
    """`mlflow.sklearn` -> "sklearn"; a string is taken as is; None stays None."""
    if flavor is None or isinstance(flavor, str):
        return flavor
    return str(getattr(flavor, "__name__", flavor)).rsplit(".", 1)[-1]


def log_model(
    store: Any,
    model: Any,
    artifact_path: str,
    flavor: Any,
    training_set: Any,
    registered_model_name: str | None = None,
    *,
    feature_columns: list[str] | None = None,
    threshold: float = 0.5,
    online: dict[str, Any] | None = None,
    example_rows: int = 5,
) -> Any:
    """Log `model` with the feature spec of `training_set`, as the Feature Engineering client does.

    The model is always packaged as the one `ChurnPyfuncModel` (whatever `flavor` says; the
    flavor is recorded in the spec), so serving and `score_batch` load it the same way.

    Args:
        store: the feature store the training set came from (its tables are looked up later).
        model: a fitted model of any family.
        artifact_path: the model's name within the run.
        flavor: an MLflow flavor module (`mlflow.sklearn`) or name, recorded in the spec.
        training_set: from `store.create_training_set(...)`.
        registered_model_name: also register a new version under this name.
        feature_columns: the model's input order; default: the training set's feature columns.
        threshold: the default decision threshold.
        online: an `OnlineStoreConfig` dict for key-only serving requests.
        example_rows: rows of the training set saved as the input example.

    Returns:
        MLflow's `ModelInfo`; its run carries the feature tables' versions as tags.
    """
    import mlflow

    from churnops.data.feature_store.frames import to_arrow

    _, detected = as_predictor(model)
    df = training_set.load_df()  # also records the table versions it read
    spec = FeatureSpec.from_training_set(
        training_set, feature_columns, flavor=flavor_name(flavor) or detected
    )
    missing = [c for c in spec.feature_columns if c not in df.columns]
    if missing:
        raise ValueError(
            f"feature_columns: {missing} are not columns of the training set "
            f"(columns: {list(df.columns)})"
        )
    example = to_arrow(df.select(*spec.feature_columns).limit(example_rows)).to_pandas()
    started = mlflow.active_run() is None
    if started:
        mlflow.start_run()
    try:
        mlflow.set_tags(
            {f"feature_table.{t}": str(v) for t, v in spec.table_versions.items()}
            | {"feature_spec.flavor": str(spec.flavor)}
        )
        return log_pyfunc_model(
            model,
            spec,
            name=artifact_path,
            threshold=threshold,
            input_example=example,
            registered_model_name=registered_model_name,
            online=online,
        )
    finally:
        if started:
            mlflow.end_run()
