"""The scale-out engine: pyspark, `local[*]` by default, or a given session or master URL."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa

# Small, quiet and deterministic defaults for a local session; a cluster keeps its own settings.
LOCAL_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.memory": "4g",
}


def check_java() -> None:
    """Fail with a clear message when no Java runtime is there for Spark."""
    java = Path(os.environ["JAVA_HOME"], "bin", "java") if os.environ.get("JAVA_HOME") else None
    if not (java and java.exists()) and not shutil.which("java"):
        raise RuntimeError(
            "engine='spark' needs Java 17+ (java on PATH or JAVA_HOME); none was found. "
            "Install a JDK 17 or use engine='duckdb'."
        )


class SparkEngine:
    """pyspark session. Pass `session` to reuse one (a cluster, Databricks), else one is built."""

    name = "spark"

    def __init__(
        self, session: Any = None, master: str = "local[*]", conf: dict[str, str] | None = None
    ):
        self._owned = session is None
        if session is None:
            check_java()
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
            from pyspark.sql import SparkSession

            builder = SparkSession.builder.master(master).appName("churnops")
            for key, value in {**LOCAL_CONF, **(conf or {})}.items():
                builder = builder.config(key, value)
            session = builder.getOrCreate()
            session.sparkContext.setLogLevel("ERROR")
        self.session = session

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
        if self._owned:
            self.session.stop()
