"""One way to pick a backend by name: a map of short names to "module:attribute" paths.

Every seam (engine, feature store, online store, loader, launcher, model family, tuner, task)
is chosen by a string in config through `load_choice`, so a heavy optional dependency (pyspark,
ray, xgboost, the Databricks client) is imported only when its backend is chosen.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any


def load_choice(choices: Mapping[str, str], name: str, *, field: str) -> Any:
    """The attribute registered under `name` in `choices`, importing its module.

    An unknown name is a ValueError naming the config field, the value and the choices.
    """
    if name not in choices:
        raise ValueError(f"{field}={name!r}: expected one of {', '.join(sorted(choices))}")
    module, _, attr = choices[name].partition(":")
    return getattr(importlib.import_module(module), attr)
