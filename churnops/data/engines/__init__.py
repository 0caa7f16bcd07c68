"""DataFrame engines: one PySpark-API session per backend, chosen by a short name.

`duckdb` (SQLFrame over DuckDB, in-process) is the default; `spark` is pyspark, local or on a
cluster. Heavy imports happen inside each engine module, never here.
"""

from __future__ import annotations

import importlib
from typing import Any

from churnops.data.engines.base import Engine

ENGINES = {
    "duckdb": "churnops.data.engines.duckdb:DuckDBEngine",
    "spark": "churnops.data.engines.spark:SparkEngine",
}


def get_engine(name: str, **options: Any) -> Engine:
    """Create the engine registered under `name` (`duckdb` or `spark`)."""
    if name not in ENGINES:
        raise ValueError(f"engine={name!r}: expected one of {', '.join(sorted(ENGINES))}")
    module, _, cls = ENGINES[name].partition(":")
    return getattr(importlib.import_module(module), cls)(**options)


__all__ = ["ENGINES", "Engine", "get_engine"]
