"""The scale-out engine: pyspark on the session already running, a cluster master, or `local[*]`.

A session this process already runs (spark-submit, Databricks, Databricks Connect, a notebook)
is used as it is: never reconfigured, never stopped. Otherwise one is started on the master that
`resolve_master` finds; only a local master gets `LOCAL_CONF`, and only the session churnops
started is stopped by `stop()`.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa

from churnops.data.engines.cluster import (
    advertised_address,
    check_reachable,
    cluster_endpoints,
    is_local,
)

# Small, quiet and deterministic defaults for a local session; a cluster keeps its own settings.
LOCAL_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.memory": "4g",
    # Driver and executors share one JVM: loopback only, whatever the host name resolves to.
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.driver.host": "127.0.0.1",
}
# Every session churnops starts, local or not: times in UTC, Arrow transfers.
SESSION_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}


def check_java() -> None:
    """Fail with a clear message when no Java runtime is there for Spark."""
    java = Path(os.environ["JAVA_HOME"], "bin", "java") if os.environ.get("JAVA_HOME") else None
    if not (java and java.exists()) and not shutil.which("java"):
        raise RuntimeError(
            "engine='spark' needs Java 17+ (java on PATH or JAVA_HOME); none was found. "
            "Install a JDK 17 or use engine='duckdb'."
        )


def running_session() -> Any:
    """The session this process runs already (spark-submit, Databricks, a notebook), or None."""
    try:
        from pyspark import SparkContext
        from pyspark.sql import SparkSession
    except ImportError:
        return None
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    if SparkContext._active_spark_context is not None:  # started in another thread
        return SparkSession.builder.getOrCreate()  # no options: returns it unchanged
    return None


def resolve_master(master: str | None = None, default: str = "local[*]") -> str:
    """`master`, else `$SPARK_MASTER`, else `spark.master` from spark-submit or
    `spark-defaults.conf`, else `default`."""
    return master or os.environ.get("SPARK_MASTER") or _configured_master() or default


class SparkEngine:
    """A pyspark session: the running one, else a new one on `master` (see `resolve_master`).

    Args:
        session: a SparkSession to use as it is (never stopped by this engine).
        master: the master URL for a new session; None resolves it (see `resolve_master`).
        conf: extra `spark.*` settings for a new session (they win over churnops' defaults).
        connect_timeout_s: how long to try reaching a cluster master before failing.
        default_master: the master when nothing else names one.
    """

    name = "spark"

    def __init__(
        self,
        session: Any = None,
        master: str | None = None,
        conf: dict[str, str] | None = None,
        connect_timeout_s: float = 10.0,
        default_master: str = "local[*]",
    ):
        self._owned = False
        session = session if session is not None else running_session()
        if session is None:
            session = self._start(resolve_master(master, default_master), conf or {},
                                  connect_timeout_s)  # fmt: skip
            self._owned = True
        self.session = session

    @staticmethod
    def _start(master: str, conf: dict[str, str], timeout_s: float) -> Any:
        check_java()
        from pyspark.sql import SparkSession

        if is_local(master):
            settings = {**LOCAL_CONF, **conf}
            # Python tasks (UDFs, SparkTrials, TorchDistributor) run on this machine: in this
            # Python, with its packages, unless PYSPARK_PYTHON names another.
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        else:
            check_reachable("engine.spark.master", master, timeout_s)
            settings = {**SESSION_CONF, **conf}
            endpoints = cluster_endpoints(master)
            # Executors connect back to the driver: advertise the address on the route to the
            # master, not what the host name resolves to (often 127.0.1.1 or localhost).
            chosen = "spark.driver.host" in settings or os.environ.get("SPARK_LOCAL_IP")
            if endpoints and not chosen:
                settings["spark.driver.host"] = advertised_address(*endpoints[0])
        builder = SparkSession.builder.appName("churnops")
        builder = builder.remote(master) if master.startswith("sc://") else builder.master(master)
        for key, value in settings.items():
            builder = builder.config(key, value)
        session = builder.getOrCreate()
        if not master.startswith("sc://"):
            session.sparkContext.setLogLevel("ERROR")
        return session

    def read_parquet(self, path: str | Path) -> Any:
        return self.session.read.parquet(str(path))

    def from_arrow(self, table: pa.Table) -> Any:
        # pyspark >= 4 takes Arrow directly; older sessions go through pandas (Arrow-enabled).
        try:
            return self.session.createDataFrame(table)
        except TypeError:
            return self.session.createDataFrame(table.to_pandas())

    def to_arrow(self, df: Any) -> pa.Table:
        if hasattr(df, "toArrow"):  # pyspark >= 4
            return df.toArrow()
        return pa.Table.from_pandas(df.toPandas(), preserve_index=False)

    def view(self, df: Any, name: str) -> Any:
        df.createOrReplaceTempView(name)
        return self.session.table(name)

    def compile(self, df: Any) -> None:
        return None  # Spark plans a DataFrame in the JVM, cheaply: nothing to keep

    def run_sql(self, sql: str) -> pa.Table:
        return self.to_arrow(self.session.sql(sql))

    def stop(self) -> None:
        """Stop the session if this engine started it; a session found running is left alone."""
        if self._owned:
            self.session.stop()


def _configured_master() -> str | None:
    """`spark.master` as spark-submit gave it (`--master` or its properties file) or as
    `spark-defaults.conf` sets it; None when neither does."""
    if os.environ.get("PYSPARK_GATEWAY_PORT"):  # under spark-submit: its JVM holds the settings
        from pyspark import SparkConf, SparkContext

        SparkContext._ensure_initialized()
        return SparkConf().get("spark.master", None)
    conf_dir = os.environ.get("SPARK_CONF_DIR")
    if not conf_dir:
        from pyspark.find_spark_home import _find_spark_home

        conf_dir = os.path.join(_find_spark_home(), "conf")
    defaults = Path(conf_dir, "spark-defaults.conf")
    if not defaults.is_file():
        return None
    for line in defaults.read_text().splitlines():
        parts = re.split(r"[\s=]+", line.strip(), maxsplit=1)
        if parts[0] == "spark.master" and len(parts) == 2:
            return parts[1].strip()
    return None
