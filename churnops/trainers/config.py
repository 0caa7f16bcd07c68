"""The typed, strict training config: groups data, features, model, trainer, launcher, logger.

`load_train_config(["model=xgboost", "trainer.max_epochs=5"])` starts from configs/train.yaml,
swaps in a group's file for each `group=name` (configs/<group>/<name>.yaml), then applies the
dotted overrides. Unknown keys, groups or options are errors that name them.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from churnops.config import (
    CONFIG_DIR,
    ConfigError,
    StrictConfig,
    apply_overrides,
    build_config,
    deep_merge,
    expand_shorthands,
    load_yaml,
)
from churnops.data.datasets import cdnow_cutoff
from churnops.data.engines.config import EngineConfig
from churnops.data.features import FEATURE_COLUMNS
from churnops.data.sources.config import SourceConfig
from churnops.data.storage import StorageConfig

GROUPS = ("data", "model", "trainer", "launcher", "engine", "logger")
ModelName = Literal[
    "mlp",
    "random_forest",
    "logistic_regression",
    "xgboost",
    "recency",
    "spark_logistic_regression",
    "spark_xgboost",
]


class TableVersion(StrictConfig):
    """A table the training set was built from, and its Delta version (for lineage)."""

    name: str
    version: int | None = None


class DataConfig(StrictConfig):
    """Which training set: a customer table at `path` (CSV, Parquet, Delta; one row per
    customer), or one built from the orders log `source` at `as_of` / horizon."""

    # A label for runs, feature tables and benchmark rows; None: the file's name, else the
    # source's kind (cdnow).
    name: str | None = None
    path: str | None = None  # a customer table; None: build one from `source` under workdir
    source: SourceConfig = Field(default_factory=SourceConfig)  # the orders log (path: null)
    as_of: date = Field(default_factory=cdnow_cutoff)  # features use orders up to this day
    horizon_days: int = Field(default=180, gt=0)  # churn: no order in (as_of, as_of + horizon]
    tables: list[TableVersion] = Field(default_factory=list)  # lineage, logged with the run
    id_column: str | None = "customer_id"  # None: the rows are numbered
    label_column: str = "churn"  # 0/1, or Yes/No, true/false
    test_size: float = Field(default=0.2, gt=0, lt=1)
    val_size: float = Field(default=0.1, gt=0, lt=1)  # of the train split, for early stopping
    cv_folds: int = Field(default=5, ge=2)
    # How a customer table at `path` is read (churnops.data.sources.customers):
    delimiter: str = Field(default=",", min_length=1, max_length=1)  # a CSV's field separator
    label_values: dict[str, int] | None = None  # raw label -> 0/1; None: yes/no, true/false, 1/0
    invalid_values: Literal["missing", "reject"] = "missing"  # an unparseable number

    @model_validator(mode="before")
    @classmethod
    def _name_from_the_data(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("name") is None:
            data = {**data, "name": data_name(data.get("path"), data.get("source"))}
        return data

    @model_validator(mode="after")
    def _source_or_path(self) -> DataConfig:
        if self.path and self.source != SourceConfig():
            raise ValueError(
                f"data.source configures the orders log a training set is built from, but "
                f"data.path={self.path!r} is read as a customer table: drop data.source (a "
                "CSV's separator is data.delimiter)"
            )
        return self


def data_name(path: str | None, source: Any = None) -> str:
    """A dataset's label: the stem of `path` (`customers.csv` -> customers), else the orders
    source's file stem or kind."""
    if path:
        return Path(str(path).rstrip("/")).stem or "data"
    source = source.model_dump() if isinstance(source, SourceConfig) else source or {}
    if source.get("path"):
        return Path(str(source["path"]).rstrip("/")).stem or "data"
    return str(source.get("kind") or "cdnow")


NumericTransform = Literal["auto", "log1p", "standardize", "none"]


class FeaturesConfig(StrictConfig):
    """Which columns feed the model, which are categories, how numeric ones are transformed."""

    # None: every column of a customer table but its id and label, typed as `churnops features
    # customers` shows (text: categorical); the 18 order features for a set built from orders.
    columns: list[str] | None = None
    # Columns of categories (strings or codes): the model learns their vocabulary on the
    # training split (plus missing and unknown buckets). A mapping's values are ignored.
    categorical: list[str] = Field(default_factory=list)
    log1p: Literal["auto", "none"] = "auto"  # auto: log1p on non-negative, skewed columns
    transforms: dict[str, NumericTransform] = Field(default_factory=dict)  # per column
    recency_column: str = "days_since_last_order"  # the recency baseline's one feature

    @field_validator("categorical", mode="before")
    @classmethod
    def _names_of_mapping(cls, value: Any) -> Any:
        return list(value) if isinstance(value, dict) else value  # the old {column: codes}

    @property
    def names(self) -> list[str]:
        """`columns`, once known (a customer table's are read by `prepare_training_data`)."""
        if self.columns is None:
            raise ValueError(
                "features.columns: not known before the table is read (prepare_training_data)"
            )
        return self.columns

    @model_validator(mode="after")
    def _known_columns(self) -> FeaturesConfig:
        if self.columns is None:
            return self  # checked once the table's columns are known
        for key, names in (("categorical", self.categorical), ("transforms", self.transforms)):
            unknown = [c for c in names if c not in self.columns]
            if unknown:
                raise ValueError(
                    f"features.{key}: {unknown} not among features.columns {self.columns}"
                )
        overlap = [c for c in self.transforms if c in self.categorical]
        if overlap:
            raise ValueError(f"features.transforms: {overlap} are categorical, not numeric")
        return self


class MLPConfig(StrictConfig):
    """The net (`TabularChurnNet`); configs/model/mlp.yaml says why each default."""

    hidden_sizes: list[int] = Field(default_factory=lambda: [128, 128], min_length=1)
    dropout: float = Field(default=0.1, ge=0, lt=1)
    norm: Literal["batch", "layer", "none"] = "none"
    embedding_dim: int = Field(default=8, gt=0)
    numeric_embedding: Literal["periodic", "none"] = "periodic"
    numeric_embedding_dim: int = Field(default=16, gt=0)
    n_frequencies: int = Field(default=16, gt=0)
    frequency_scale: float = Field(default=0.1, gt=0)
    ensemble_size: int = Field(default=16, gt=0)
    additive: bool = True
    label_smoothing: float = Field(default=0.0, ge=0, lt=1)
    lr: float = Field(default=3e-3, gt=0)
    weight_decay: float = Field(default=1e-3, ge=0)
    # BCE weight of the positive class: a number, "auto" (negatives / positives) or None (1).
    pos_weight: float | Literal["auto"] | None = None
    scheduler: Literal["onecycle", "cosine", "none"] = "onecycle"
    # Fit one temperature on the validation split after training: calibrated probabilities,
    # the same ranking.
    temperature_scaling: bool = True


class RandomForestConfig(StrictConfig):
    n_estimators: int = Field(default=100, gt=0)  # 100 trees of depth 10: the benchmarks' forest
    max_depth: int | None = 10
    n_jobs: int = -1  # -1: every core; 1 on a shared, oversubscribed box


class LogisticRegressionConfig(StrictConfig):
    c: float = Field(default=1.0, gt=0)
    max_iter: int = Field(default=1000, gt=0)


class XGBoostConfig(StrictConfig):
    n_estimators: int = Field(default=300, gt=0)
    max_depth: int = Field(default=4, gt=0)
    learning_rate: float = Field(default=0.05, gt=0)
    subsample: float = Field(default=0.8, gt=0, le=1)
    colsample_bytree: float = Field(default=0.8, gt=0, le=1)
    device: str = "auto"  # auto: cuda when a GPU is there
    n_jobs: int = -1  # -1: every core; 1 on a shared, oversubscribed box


class ModelConfig(StrictConfig):
    """`name` picks the family; each family reads its own section."""

    name: ModelName = "mlp"
    mlp: MLPConfig = Field(default_factory=MLPConfig)
    random_forest: RandomForestConfig = Field(default_factory=RandomForestConfig)
    logistic_regression: LogisticRegressionConfig = Field(default_factory=LogisticRegressionConfig)
    xgboost: XGBoostConfig = Field(default_factory=XGBoostConfig)


class TrainerConfig(StrictConfig):
    """The Lightning Trainer's settings (the baselines ignore them)."""

    max_epochs: int = Field(default=30, gt=0)
    batch_size: int = Field(default=256, gt=0)
    accelerator: Literal["auto", "cpu", "gpu"] = "auto"
    precision: Literal["32-true", "bf16-mixed", "16-mixed"] = "32-true"
    # a churnops.data.loaders kind: in-memory holds the fit split's arrays as tensors; the
    # others read the split written as Parquet
    loader: Literal["in-memory", "arrow-stream", "petastorm", "ray-data"] = "in-memory"
    # in-memory switches to arrow-stream when the fit split's tensors exceed this (null: never)
    memory_budget_mb: float | None = Field(default=256, gt=0)
    early_stopping_patience: int | None = Field(default=5, ge=1)  # epochs without val/auroc gain
    limit_train_batches: int | float = 1.0  # int: batches, float: fraction (tests use tiny runs)
    limit_val_batches: int | float = 1.0
    progress_bar: bool = True
    threads: int | None = Field(default=None, ge=1)  # torch threads per process; None: 1
    # torch.compile the net's forward: "reduce-overhead" adds CUDA graphs (GPU only), see
    # churnops.models.fast_step.COMPILE_MODES
    compile: Literal[
        "none", "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"
    ] = "none"


class LauncherConfig(StrictConfig):
    """Where the train function runs: in-process, on Spark's TorchDistributor, or on Ray Train."""

    name: Literal["local", "torch_distributor", "ray"] = "local"
    num_workers: int = Field(default=1, ge=1)  # processes (DDP ranks)
    use_gpu: bool = False
    local_mode: bool = True  # torch_distributor: torchrun on the driver vs Spark barrier tasks
    # ray: the cluster to join (else $RAY_ADDRESS, else a local instance), connected with no
    # resource arguments; ray_storage_path: where Ray Train keeps results and checkpoints,
    # a folder or URI every node sees (None: <workdir>/checkpoints/ray, one machine only)
    ray_address: str | None = None
    ray_storage_path: str | None = None
    # ray: CPUs each train worker reserves; None: 1, or 0.5 with trainer.loader=ray-data
    cpus_per_worker: float | None = Field(default=None, gt=0)


class LoggerConfig(StrictConfig):
    """MLflow tracking: an embedded SQLite store under workdir unless a URI is given.

    Every run ends with the churnops pyfunc logged (feature spec, signature, input example).
    """

    name: Literal["mlflow", "none"] = "mlflow"
    tracking_uri: str | None = None  # None: sqlite:///<workdir>/mlflow.db
    registry_uri: str | None = None  # None: the tracking URI doubles as the registry
    experiment: str = "churnops-train"
    run_name: str | None = None
    log_plots: bool = True


class RegisterConfig(StrictConfig):
    """Register the logged model as a new version of `model_name`, under `alias` when set."""

    enabled: bool = False
    model_name: str = "churnops_churn"
    alias: str | None = "challenger"  # the gate decides whether it becomes champion


class TrainConfig(StrictConfig):
    """Everything `train(cfg)` needs; logged in full with every run."""

    seed: int = 42
    workdir: str = ".churnops/train"
    data: DataConfig = Field(default_factory=DataConfig)
    features: FeaturesConfig = Field(default_factory=FeaturesConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    trainer: TrainerConfig = Field(default_factory=TrainerConfig)
    launcher: LauncherConfig = Field(default_factory=LauncherConfig)
    engine: EngineConfig = Field(default_factory=EngineConfig)  # training set, TorchDistributor
    logger: LoggerConfig = Field(default_factory=LoggerConfig)
    registry: RegisterConfig = Field(default_factory=RegisterConfig)
    # Object-store credentials for `data.path` and tables on s3://, gs://, abfss:// (None: the
    # AWS_*, AZURE_*, GOOGLE_* environment variables); secrets are logged masked.
    storage: StorageConfig | None = None

    @model_validator(mode="before")
    @classmethod
    def _order_features(cls, data: Any) -> Any:
        """A training set built from orders has the 18 order features: known without reading
        it (a table at data.path is read for its columns by `prepare_training_data`)."""
        if not isinstance(data, dict):
            return data
        source = data.get("data")
        features = data.get("features")
        path = source.get("path") if isinstance(source, dict) else getattr(source, "path", None)
        columns = (
            features.get("columns") if isinstance(features, dict)
            else getattr(features, "columns", None)
        )  # fmt: skip
        if path is None and columns is None:
            features = features.model_dump() if isinstance(features, FeaturesConfig) else features
            data = {**data, "features": {**(features or {}), "columns": list(FEATURE_COLUMNS)}}
        return data


def group_options(group: str, config_dir: Path = CONFIG_DIR) -> list[str]:
    """The names a group can take: its YAML files' stems under configs/<group>/."""
    return sorted(p.stem for p in (config_dir / group).glob("*.yaml"))


def group_file(group: str, name: str, config_dir: Path = CONFIG_DIR) -> Path:
    """configs/<group>/<name>.yaml, or your own file: `data=my_table.yaml` (a path ending in
    .yaml or .yml) holds one group's keys, so one file serves train, sweep and benchmark."""
    if str(name).endswith((".yaml", ".yml")):
        path = Path(name).expanduser()
        if not path.is_file():
            raise ConfigError(f"{group}={name!r}: no such file")
        return path
    options = group_options(group, config_dir)
    if name not in options:
        raise ConfigError(
            f"{group}={name!r}: no such option; expected one of {options} or a .yaml file"
        )
    return config_dir / group / f"{name}.yaml"


def load_train_config(
    overrides: list[str] = (),  # type: ignore[assignment]
    path: str | Path | None = None,
    config_dir: Path = CONFIG_DIR,
) -> TrainConfig:
    """Compose configs/train.yaml (or `path`), group choices and dotted overrides; validate.

    Args:
        overrides: `group=name` picks configs/<group>/<name>.yaml (or `group=file.yaml`);
            `a.b=value` sets one key.
        path: the root YAML; its `defaults` mapping names each group's file.
        config_dir: where the group folders are.
    """
    # `engine: spark` in an older root file is the section `{name: spark}`, which refines
    # the engine group's file like any other section.
    root = expand_shorthands(TrainConfig, load_yaml(path or config_dir / "train.yaml"))
    defaults = root.pop("defaults", {}) or {}
    unknown = set(defaults) - set(GROUPS)
    if unknown:
        raise ConfigError(f"defaults: unknown group(s) {sorted(unknown)}; expected {GROUPS}")
    choices = dict(defaults)
    dotted = []
    for text in overrides:
        key, sep, value = text.partition("=")
        if sep and "." not in key and key in GROUPS:
            choices[key] = value
        else:
            dotted.append(text)
    groups = {g: load_yaml(group_file(g, name, config_dir)) for g, name in choices.items()}
    # A root section refines its group's file at every depth: `model: {mlp: {dropout: 0.2}}`
    # keeps the file's other `mlp` keys; a list or a value replaces the file's.
    data = deep_merge(expand_shorthands(TrainConfig, groups), root)
    return build_config(
        TrainConfig, apply_overrides(data, dotted, TrainConfig), source="train config"
    )
