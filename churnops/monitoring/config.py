"""`MonitorConfig`: a monitor as strict config, like Databricks data profiling's InferenceLog, with
its retraining policy (`RetrainPolicy`) and the A/B test it watches (`ABConfig`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from churnops.config import StrictConfig
from churnops.data.engines.config import EngineConfig
from churnops.data.storage import StorageConfig

# Granularity -> the date_trunc unit both engines (and Databricks) align windows on.
GRANULARITIES = {
    "1 hour": "hour",
    "1 day": "day",
    "1 week": "week",
    "1 month": "month",
    "1 year": "year",
}


class ScheduleConfig(StrictConfig):
    """When a scheduled refresh runs (Databricks' CronSchedule)."""

    quartz_cron_expression: str = "0 0 6 * * ?"  # daily at 06:00
    timezone_id: str = "UTC"


class RetrainPolicy(StrictConfig):
    """When the monitor asks for retraining (see `churnops.monitoring.analysis.decision`)."""

    drift_metric: Literal["population_stability_index", "js_distance", "ks_statistic"] = (
        "population_stability_index"
    )
    drift_threshold: float = Field(0.2, gt=0)  # PSI > 0.2: the usual "significant shift"
    drift_windows: int = Field(2, ge=1)  # ... in this many latest windows in a row
    drift_columns: list[str] | None = None  # None: the prediction and every feature
    quality_metric: Literal["roc_auc", "pr_auc", "accuracy_score", "f1"] = "roc_auc"
    quality_floor: float = 0.65
    quality_recent: int = Field(5, ge=1)  # below the floor in >= quality_min_bad of these ...
    quality_min_bad: int = Field(2, ge=1)  # ... and in the latest labelled window
    min_rows: int = Field(100, ge=1)  # windows with fewer rows are not judged
    cooldown_days: float = Field(7.0, ge=0)  # no second "retrain" this soon after one
    srm_alpha: float = Field(0.001, gt=0, lt=1)  # an A/B sample-ratio mismatch blocks retraining


class ABConfig(StrictConfig):
    """What to compare and how strictly.

    Attributes:
        control: the arm serving now (its value in `arm_col`, e.g. `champion`).
        treatment: the arm that may replace it (e.g. `challenger`).
        expected_split: arm -> configured traffic share (percentages or fractions).
        arm_col: the predictions column naming the arm.
        srm_alpha: sample-ratio mismatch alarms below this p-value, and gates the rest.
        alpha: significance level of the AUC test and the intervals (1 - alpha coverage).
        power: the power the labels-still-needed estimate plans for.
        min_effect: the smallest AUC difference worth detecting (plans the labels needed).
        n_bootstrap: customer-level bootstrap resamples.
        seed: the bootstrap's seed.
        max_label_age_days: see `churnops.monitoring.labels`.
    """

    control: str
    treatment: str
    expected_split: dict[str, float]
    arm_col: Literal["served_entity_name", "model_version"] = "served_entity_name"
    srm_alpha: float = Field(0.001, gt=0, lt=1)
    alpha: float = Field(0.05, gt=0, lt=1)
    power: float = Field(0.8, gt=0, lt=1)
    min_effect: float = Field(0.01, gt=0, lt=1)
    n_bootstrap: int = Field(1000, ge=100)
    seed: int = 0
    max_label_age_days: int | None = None

    @model_validator(mode="after")
    def _arms_in_split(self) -> ABConfig:
        for arm in (self.control, self.treatment):
            if arm not in self.expected_split:
                raise ValueError(
                    f"expected_split: lacks arm {arm!r}; has {sorted(self.expected_split)}"
                )
        return self


class MonitorConfig(StrictConfig):
    """A monitor over a predictions table (one row per scored customer).

    Mirrors Databricks' InferenceLog profile: `table`, `timestamp_col`, `model_id_col`,
    `prediction_col`, `label_col`, `problem_type`, `granularities`, `slicing_exprs`,
    `baseline_table`, `schedule`; plus where the outputs go and the retraining policy.
    """

    name: str = "churn"
    table: str  # the predictions Delta table (unpacked from `inference_log` when that is set)
    inference_log: str | None = None  # the serving inference log Delta table to unpack
    output_dir: str  # <name>_profile_metrics, _drift_metrics, _decisions, state live here
    engine: EngineConfig = Field(default_factory=EngineConfig)  # `engine=spark` is shorthand
    problem_type: Literal["classification"] = "classification"
    timestamp_col: str = "timestamp"
    model_id_col: str = "model_version"
    prediction_col: str = "prediction"
    prediction_proba_col: str = "probability"
    id_col: str = "customer_id"
    label_col: str = "churn"
    labels_table: str | None = None  # Delta: id_col, label_time_col, label_col
    label_time_col: str = "cutoff"
    # A label older than this (days before the prediction) judges another period: unlabelled.
    max_label_age_days: int | None = Field(default=None, ge=0)
    granularities: list[str] = Field(default_factory=lambda: ["1 day"])
    slicing_exprs: list[str] = Field(default_factory=list)
    baseline_table: str | None = None  # the training set with the model's predictions
    feature_cols: list[str] | None = None  # None: every other numeric or string column
    categorical_cols: list[str] = Field(default_factory=list)  # numeric columns to treat as such
    quantiles: list[float] = Field(default_factory=lambda: [0.05, 0.25, 0.5, 0.75, 0.95])
    drift_bins: int = Field(2000, ge=10)  # fine bins for KS / Wasserstein (refresh/statistics.py)
    psi_bins: int = Field(10, ge=2)  # baseline-quantile bins for PSI
    calibration_bins: int = Field(10, ge=2)
    frequent_items: int = Field(10, ge=1)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    ab: ABConfig | None = None  # the traffic split under test: its SRM gates retraining
    retrain: RetrainPolicy = Field(default_factory=RetrainPolicy)
    # Credentials for tables on s3://, gs://, abfss:// (None: the environment variables).
    storage: StorageConfig | None = None
    # Databricks target: where `churnops monitor create --target databricks` points.
    databricks_table: str | None = None  # catalog.schema.table of the predictions
    databricks_output_schema: str | None = None  # catalog.schema for the metric tables
    databricks_baseline_table: str | None = None
    databricks_assets_dir: str | None = None

    @field_validator("granularities")
    @classmethod
    def _known_granularities(cls, value: list[str]) -> list[str]:
        for g in value:
            if g not in GRANULARITIES:
                raise ValueError(f"granularity {g!r}: expected one of {list(GRANULARITIES)}")
        if not value:
            raise ValueError("expected at least one granularity")
        return value

    @field_validator("quantiles")
    @classmethod
    def _unit_quantiles(cls, value: list[float]) -> list[float]:
        bad = [q for q in value if not 0 <= q <= 1]
        if bad:
            raise ValueError(f"quantiles {bad}: expected values in [0, 1]")
        return value

    def table_path(self, suffix: str) -> str:
        """The output table `<output_dir>/<name>_<suffix>` (profile_metrics, drift_metrics...);
        `output_dir` may be an object-store URI."""
        from churnops.data.storage import join

        return join(self.output_dir, f"{self.name}_{suffix}")
