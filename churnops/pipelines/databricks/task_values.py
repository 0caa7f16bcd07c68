"""Task values on Databricks: what a local run passes between tasks, a job run sets with dbutils."""

from __future__ import annotations

import os
from typing import Any


def on_databricks() -> bool:
    """Whether this process runs on a Databricks cluster (its runtime sets this variable)."""
    return "DATABRICKS_RUNTIME_VERSION" in os.environ


def publish_task_values(outputs: dict[str, Any]) -> bool:
    """Set each output as a Databricks task value (`{{tasks.KEY.values.NAME}}` downstream).

    Returns:
        True when the values were set; False off Databricks, where the local runner reads the
        outputs file instead.
    """
    if not on_databricks():
        return False
    from databricks.sdk.runtime import dbutils

    for key, value in outputs.items():
        dbutils.jobs.taskValues.set(key=key, value=value)
    return True
