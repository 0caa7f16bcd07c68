"""`ScoringClient`: a feature store composed with the churnops pyfunc, for the Feature
Engineering client's `log_model` and `score_batch` on every backend."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from typing import Any

from churnops.data.feature_store.databricks import DatabricksFeatureStore, DatabricksTrainingSet
from churnops.models.feature_spec import FeatureSpec
from churnops.models.pyfunc import pyfunc_package
from churnops.scoring import batch, packaging

# What the churnops pyfunc answers per row, as Spark reads it on Databricks.
RESULT_TYPE = "struct<probability:double,prediction:bigint>"


@dataclass
class LoggedModel:
    """Where the Databricks client logged a model (its `log_model` returns nothing)."""

    model_uri: str


class ScoringClient:
    """`log_model` and `score_batch` over `store`; the model is always the churnops pyfunc.

    Locally the spec of the training set is packaged and `score_batch` joins features itself;
    on Databricks the official client records its own feature spec and does the lookups, and
    logs the same pyfunc (`flavor=mlflow.pyfunc`), so one serving contract holds everywhere.
    """

    def __init__(self, store: Any):
        self.store = store

    def log_model(
        self,
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
        """Log `model` as the churnops pyfunc with `training_set`'s features (see
        `churnops.scoring.packaging.log_model` for the arguments). On Databricks
        `feature_columns` is required: the model's input order."""
        if isinstance(self.store, DatabricksFeatureStore):
            return self._log_databricks(
                model, artifact_path, training_set, registered_model_name,
                feature_columns, threshold, online,
            )  # fmt: skip
        return packaging.log_model(
            self.store, model, artifact_path, flavor, training_set, registered_model_name,
            feature_columns=feature_columns, threshold=threshold, online=online,
            example_rows=example_rows,
        )  # fmt: skip

    def _log_databricks(
        self,
        model: Any,
        artifact_path: str,
        training_set: Any,
        registered_model_name: str | None,
        feature_columns: list[str] | None,
        threshold: float,
        online: dict[str, Any] | None,
    ) -> Any:
        import mlflow.pyfunc

        if not feature_columns:
            raise ValueError(
                "feature_columns: required on Databricks (the model's input order), got "
                f"{feature_columns!r}"
            )
        with tempfile.TemporaryDirectory() as tmp:
            package = pyfunc_package(
                model, FeatureSpec(list(feature_columns)), tmp, threshold=threshold, online=online
            )
            started = mlflow.active_run() is None
            run = mlflow.active_run() or mlflow.start_run()  # the client logs into the active run
            try:
                self._client_log(package, artifact_path, training_set, registered_model_name)
            finally:
                if started:
                    mlflow.end_run()
            return LoggedModel(f"runs:/{run.info.run_id}/{artifact_path}")

    def _client_log(
        self, package: dict[str, Any], artifact_path: str, training_set: Any, name: str | None
    ) -> None:
        import mlflow.pyfunc

        self.store.client.log_model(
            model=package["python_model"],
            artifact_path=artifact_path,
            flavor=mlflow.pyfunc,
            # the client reads its own TrainingSet's feature spec, not our wrapper's
            training_set=training_set.client_set
            if isinstance(training_set, DatabricksTrainingSet)
            else training_set,
            registered_model_name=name,
            artifacts=package["artifacts"],
            pip_requirements=package["pip_requirements"],
        )

    def score_batch(self, model_uri: str, df: Any, params: dict[str, Any] | None = None) -> Any:
        """`df` with the model's features looked up and `probability` / `prediction` added, on
        every backend (on Databricks the client's one struct column `prediction` is split into
        the two, so readers of the predictions see the same columns everywhere)."""
        if isinstance(self.store, DatabricksFeatureStore):
            if params:
                raise ValueError(f"params={params!r}: the Databricks client takes no params")
            scored = self.store.client.score_batch(
                model_uri=model_uri, df=df, result_type=RESULT_TYPE
            )
            return split_result(scored)
        return batch.score_batch(self.store, model_uri, df, params=params)


def split_result(scored: Any) -> Any:
    """The client's `score_batch` output (a struct column `prediction` of `RESULT_TYPE`) with
    that struct as two columns, `probability` and `prediction`, last, as churnops writes them."""
    from pyspark.sql import functions as F

    result = F.col("prediction")
    kept = [F.col(f"`{c}`") for c in scored.columns if c != "prediction"]
    return scored.select(
        *kept,
        result.getField("probability").alias("probability"),
        result.getField("prediction").alias("prediction"),
    )
