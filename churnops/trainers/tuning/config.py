"""`TuneConfig`: the search space, the search backend and what happens to the best trial."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from churnops.config import CONFIG_DIR, ConfigError, StrictConfig, load_config
from churnops.data.engines.config import EngineConfig
from churnops.trainers.config import RegisterConfig

KINDS = ("choice", "uniform", "loguniform", "quniform", "randint")


class ParamSpace(StrictConfig):
    """One hyperparameter's distribution: exactly one of the fields is set.

    `choice: [50, 100]`, `uniform: [lo, hi]`, `loguniform: [lo, hi]`, `quniform: [lo, hi, q]`,
    `randint: [lo, hi)`.
    """

    choice: list[Any] | None = None
    uniform: list[float] | None = None
    loguniform: list[float] | None = None
    quniform: list[float] | None = None
    randint: list[int] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> ParamSpace:
        given = [k for k in KINDS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"expected exactly one of {KINDS}, got {given or 'none'}")
        kind = given[0]
        values = getattr(self, kind)
        sizes = {"choice": None, "quniform": 3}
        want = sizes.get(kind, 2)
        if (want is None and not values) or (want is not None and len(values) != want):
            raise ValueError(f"{kind}: expected {want or 'one or more'} values, got {values}")
        if kind != "choice" and values[0] >= values[1]:
            raise ValueError(f"{kind}: low {values[0]} must be below high {values[1]}")
        if kind == "loguniform" and values[0] <= 0:
            raise ValueError(f"loguniform: low {values[0]} must be positive")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in KINDS if getattr(self, k) is not None)

    @property
    def values(self) -> list[Any]:
        return getattr(self, self.kind)


class AshaConfig(StrictConfig):
    """Early stopping of poor net trials between epochs (Ray Tune's ASHA)."""

    enabled: bool | Literal["auto"] = "auto"  # auto: on for the net, off for the baselines
    grace_period: int = Field(default=1, ge=1)  # epochs every trial gets
    reduction_factor: int = Field(default=2, ge=2)


class TuneConfig(StrictConfig):
    """A sweep: which family, which space, which backend, how many trials.

    Space keys are train-config paths (`model.random_forest.max_depth`), or `estimator.<param>`
    for a parameter set directly on the underlying sklearn / XGBoost estimator.
    """

    model: Literal["mlp", "random_forest", "logistic_regression", "xgboost"] = "random_forest"
    space: dict[str, ParamSpace]
    backend: Literal["ray", "hyperopt"] = "ray"
    search: Literal["optuna", "hyperopt"] = "optuna"  # ray backend: the search algorithm
    num_samples: int = Field(default=20, ge=1)  # trials
    max_concurrent: int = Field(default=2, ge=1)  # ray: trials at once; hyperopt: parallelism
    trial_cpus: int = Field(default=1, ge=1)  # CPUs (and estimator n_jobs) per trial
    spark_trials: bool = True  # hyperopt: SparkTrials on a Spark session; false: serial Trials
    # The engine setting: builds the training set, and hyperopt's SparkTrials runs on its Spark
    # session (the running one, else engine.spark.master, else local[max_concurrent]).
    engine: EngineConfig = Field(default_factory=EngineConfig)
    # ray: the cluster to join (else $RAY_ADDRESS, else a local instance), connected with no
    # resource arguments; trial results go to ray_storage_path, a folder or URI every node sees
    # (None: <workdir>/ray_results, one machine only).
    ray_address: str | None = None
    ray_storage_path: str | None = None
    val_size: float = Field(default=0.25, gt=0, lt=1)  # of the train split, scored per trial
    metric: str = "val/auroc"  # the one metric name, maximised
    asha: AshaConfig = Field(default_factory=AshaConfig)
    refit: bool = True  # refit the best params on the whole train split, score the test split
    register_best: RegisterConfig = Field(default_factory=RegisterConfig)
    experiment: str = "churnops-tune"
    seed: int = 42
    train_overrides: list[str] = Field(default_factory=list)  # for load_train_config

    @model_validator(mode="after")
    def _check(self) -> TuneConfig:
        if not self.space:
            raise ValueError("space: expected at least one parameter to search")
        for key in self.space:
            if not (key.startswith(("model.", "trainer.", "estimator.")) and key.count(".") >= 1):
                raise ValueError(
                    f"space.{key}: expected a train-config path (model.<family>.<param>, "
                    "trainer.<param>) or estimator.<param>"
                )
        if self.metric != "val/auroc":
            raise ValueError(f"metric={self.metric!r}: the sweeps optimise 'val/auroc'")
        return self

    @property
    def use_asha(self) -> bool:
        return self.model == "mlp" if self.asha.enabled == "auto" else bool(self.asha.enabled)


def tune_config_path(name_or_path: str | Path) -> Path:
    """`random_forest` -> configs/tune/random_forest.yaml; a path is taken as is."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml"):
        return path
    candidate = CONFIG_DIR / "tune" / f"{name_or_path}.yaml"
    if not candidate.is_file():
        options = sorted(p.stem for p in (CONFIG_DIR / "tune").glob("*.yaml"))
        raise ConfigError(f"tune config {name_or_path!r}: no such file; expected one of {options}")
    return candidate


def load_tune_config(
    name_or_path: str | Path = "random_forest",
    overrides: list[str] = (),  # type: ignore[assignment]
) -> TuneConfig:
    """configs/tune/<name>.yaml (or a path) with `a.b=value` overrides, validated."""
    return load_config(TuneConfig, tune_config_path(name_or_path), list(overrides))
