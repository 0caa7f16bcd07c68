"""The engine a monitoring call runs on: the caller's, or one it creates and so stops."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from churnops.data.engines import Engine, EngineConfig, get_engine


@contextmanager
def monitor_engine(setting: EngineConfig | str, engine: Engine | None = None) -> Iterator[Engine]:
    """`engine` when the caller passed one, left running (it is the caller's); else a new engine
    for `setting`, stopped on exit, error or not (a Spark session it attached to is left to the
    host that started it: `Engine.stop` releases only what the engine created).
    """
    if engine is not None:
        yield engine
        return
    created = get_engine(setting)
    try:
        yield created
    finally:
        created.stop()
