"""DataFrame engines: one PySpark-API session per backend, chosen by one setting.

`duckdb` (SQLFrame over DuckDB, in-process) is the default; `spark` is pyspark, local or on a
cluster. `get_engine` turns the setting (an `EngineConfig` or a bare name) into an engine; every
command builds its engine through it. Heavy imports happen inside each engine module, never here.
"""

from __future__ import annotations

import importlib
from typing import Any

from churnops.data.engines.base import Engine
from churnops.data.engines.config import EngineConfig

ENGINES = {
    "duckdb": "churnops.data.engines.duckdb:DuckDBEngine",
    "spark": "churnops.data.engines.spark:SparkEngine",
}


def get_engine(setting: EngineConfig | dict | str = "duckdb", **options: Any) -> Engine:
    """Create the engine `setting` describes; `options` override its settings.

    Args:
        setting: an `EngineConfig`, its dict form, or a bare name (`duckdb` or `spark`).
        options: keyword arguments for the engine class (e.g. `master=` for Spark).
    """
    if isinstance(setting, str) and setting not in ENGINES:
        raise ValueError(f"engine={setting!r}: expected one of {', '.join(sorted(ENGINES))}")
    cfg = setting if isinstance(setting, EngineConfig) else EngineConfig.model_validate(setting)
    module, _, cls = ENGINES[cfg.name].partition(":")
    return getattr(importlib.import_module(module), cls)(**{**cfg.options(), **options})


__all__ = ["ENGINES", "Engine", "EngineConfig", "get_engine"]
