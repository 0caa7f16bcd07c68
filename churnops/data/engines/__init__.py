"""DataFrame engines: one PySpark-API session per backend, chosen by one setting.

`duckdb` (SQLFrame over DuckDB, in-process) is the default; `spark` is pyspark, local or on a
cluster. `get_engine` turns the setting (an `EngineConfig` or a bare name) into an engine;
`engine_for` is how a call gets one: the caller's, or one it creates and stops when done. Heavy
imports happen inside each engine module, never here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from churnops.data.engines.base import Engine
from churnops.data.engines.config import EngineConfig
from churnops.plugins import load_choice

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
    if isinstance(setting, str):  # an unknown bare name is refused by name, before validation
        load_choice(ENGINES, setting, field="engine")
    cfg = setting if isinstance(setting, EngineConfig) else EngineConfig.model_validate(setting)
    engine_cls = load_choice(ENGINES, cfg.name, field="engine")
    engine: Engine = engine_cls(**{**cfg.options(), **options})
    return engine


@contextmanager
def engine_for(
    setting: EngineConfig | dict | str = "duckdb", engine: Engine | None = None
) -> Iterator[Engine]:
    """The engine a call runs on: `engine` when the caller passed one, left running (it is the
    caller's); else a new engine for `setting`, stopped on exit, error or not. Whoever creates an
    engine stops it; a Spark session the engine only attached to is left to the host that
    started it (`Engine.stop` releases only what the engine created).
    """
    if engine is not None:
        yield engine
        return
    created = get_engine(setting)
    try:
        yield created
    finally:
        created.stop()


__all__ = ["ENGINES", "Engine", "EngineConfig", "engine_for", "get_engine"]
