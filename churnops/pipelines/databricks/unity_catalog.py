"""A Delta table churnops wrote, registered in Unity Catalog as an external table.

The monitoring job's unpack writes the predictions (one row per prediction) as a Delta table
with delta-rs; the bundle's quality monitor watches it under a Unity Catalog name. Unity Catalog
takes an existing Delta folder as an external table with `CREATE TABLE ... USING DELTA LOCATION`
(https://docs.databricks.com/aws/en/tables/external), run once through the job cluster's Spark
session; the folder must lie in an external location (a cloud URI), never in a Volume.
"""

from __future__ import annotations

import re
from typing import Any

from churnops.config import ConfigError

# The URI schemes of an external location's storage (AWS, Azure, GCS).
EXTERNAL_SCHEMES = ("s3://", "abfss://", "gs://")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def check_table_name(field: str, name: str) -> list[str]:
    """`catalog.schema.table` as its three parts, or an error naming `field` and the value."""
    parts = name.split(".")
    if len(parts) != 3 or not all(_IDENTIFIER.fullmatch(p) for p in parts):
        raise ConfigError(
            f"{field}={name!r}: expected a Unity Catalog name catalog.schema.table (letters, "
            "digits and underscores in each part)"
        )
    return parts


def check_external_location(field: str, location: str) -> str:
    """`location` when an external table may live there: a cloud URI without quotes."""
    if not location.startswith(EXTERNAL_SCHEMES) or any(q in location for q in "'\"\\`"):
        raise ConfigError(
            f"{field}={location!r}: a Unity Catalog external table needs its folder in an "
            f"external location, a URI starting {' or '.join(EXTERNAL_SCHEMES)} (not a Volume "
            "or a local path, and without quotes)"
        )
    return location


def external_table_sql(name: str, location: str) -> str:
    """The statement that registers the Delta folder at `location` as table `name` (a no-op
    when `name` exists already: a rerun of the job registers nothing twice)."""
    quoted = ".".join(f"`{p}`" for p in check_table_name("predictions_table", name))
    where = check_external_location("location", location)
    return f"CREATE TABLE IF NOT EXISTS {quoted} USING DELTA LOCATION '{where}'"


def catalog_session(name: str) -> Any:
    """The Spark session this process runs (the job cluster's), which registers table `name`.

    Raises:
        ConfigError: none runs: only a Databricks cluster's session, attached to Unity Catalog,
            can register the table (asked before any work, so nothing is written in vain).
    """
    from churnops.data.engines.spark import running_session

    spark = running_session()
    if spark is None:
        raise ConfigError(
            f"predictions_table={name!r}: registering it needs the Spark session of a "
            "Databricks cluster attached to Unity Catalog; none runs in this process"
        )
    return spark


def register_external_table(name: str, location: str, spark: Any) -> str:
    """Run `external_table_sql(name, location)` on `spark`; returns the statement run."""
    statement = external_table_sql(name, location)
    spark.sql(statement)
    return statement
