"""Find the `functions` module and `Window` class that belong to a DataFrame's engine."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


def dataframe_api(df: Any) -> tuple[ModuleType, Any]:
    """Return (functions, Window) for a pyspark or SQLFrame DataFrame.

    Feature code calls this instead of importing `pyspark.sql.functions`, so the same definition
    runs on every engine in one process (the parity tests run both side by side).
    """
    module = type(df).__module__
    if module.startswith("sqlframe."):
        backend = module.split(".")[1]  # sqlframe.duckdb.dataframe -> duckdb
        pkg = importlib.import_module(f"sqlframe.{backend}")
        return importlib.import_module(f"sqlframe.{backend}.functions"), pkg.Window
    if module.startswith("pyspark."):
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        return F, Window
    raise TypeError(f"expected a pyspark or SQLFrame DataFrame, got {type(df).__qualname__}")
