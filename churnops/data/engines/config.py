"""`EngineConfig`: the one engine setting every command takes (`engine.name=spark`, ...).

A bare name is shorthand: `engine: spark` in YAML, the override `engine=spark` or a task's
input `"engine": "spark"` means `engine: {name: spark}` (`churnops.config.expand_shorthands`),
so older configs keep working and `engine.spark.*` overrides may follow them.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from churnops.config import StrictConfig


class DuckDBSettings(StrictConfig):
    """DuckDB knobs; None leaves DuckDB's own default (only set ones reach the engine)."""

    threads: int | None = Field(default=None, ge=1)
    memory_limit: str | None = None  # e.g. "4GB": DuckDB spills to temp_directory beyond it
    temp_directory: str | None = None  # where DuckDB spills


class SparkSettings(StrictConfig):
    """Where a Spark session comes from when none is running in the process.

    A running session (spark-submit, Databricks, a notebook) is always used as it is. Otherwise
    the master is `master`, else `$SPARK_MASTER`, else `spark.master` from spark-submit or
    `spark-defaults.conf`, else `local[*]`.
    """

    master: str | None = None  # local[4], spark://host:7077, sc://host:15002, yarn, k8s://...
    conf: dict[str, str] = Field(default_factory=dict)  # extra spark.* settings for a new session
    connect_timeout_s: float = Field(default=10.0, gt=0)  # reaching the master before giving up

    @field_validator("conf", mode="before")
    @classmethod
    def _text_values(cls, value: Any) -> Any:
        # YAML reads `spark.executor.cores: 1` as an int and the override
        # `engine.spark.conf.spark.executor.cores=1` as nested keys; Spark takes flat text.
        return _flat_text(value) if isinstance(value, dict) else value


class EngineConfig(StrictConfig):
    """Which DataFrame engine runs the data steps, and how it is set up."""

    shorthand: ClassVar[str] = "name"  # `engine: spark` means `engine: {name: spark}`

    name: Literal["duckdb", "spark"] = "duckdb"
    duckdb: DuckDBSettings = Field(default_factory=DuckDBSettings)
    spark: SparkSettings = Field(default_factory=SparkSettings)

    def __str__(self) -> str:
        if self.name == "spark" and self.spark.master:
            return f"spark ({self.spark.master})"
        return self.name

    def options(self) -> dict[str, Any]:
        """The keyword arguments of the engine class `name` names (unset DuckDB ones left out)."""
        if self.name == "duckdb":
            return {k: v for k, v in self.duckdb.model_dump().items() if v is not None}
        return self.spark.model_dump()


def _flat_text(conf: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """{"spark": {"executor": {"cores": 1}}} -> {"spark.executor.cores": "1"}."""
    out: dict[str, str] = {}
    for key, value in conf.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flat_text(value, f"{name}."))
        else:
            out[name] = str(value).lower() if isinstance(value, bool) else str(value)
    return out
