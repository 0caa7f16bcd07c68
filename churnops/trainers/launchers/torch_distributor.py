"""pyspark's TorchDistributor: torchrun on the driver (local_mode) or inside Spark barrier tasks."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from churnops.trainers.fit import NetFitJob, NetFitResult, fit_net

if TYPE_CHECKING:
    from churnops.data.engines.config import EngineConfig, SparkSettings
    from churnops.trainers.config import LauncherConfig


class TorchDistributorLauncher:
    """Runs `fit_net` through `pyspark.ml.torch.distributor.TorchDistributor`.

    Uses the running SparkSession (spark-submit, Databricks, a notebook) as it is; else starts
    one on the engine's Spark master (`engine.spark.master`, `$SPARK_MASTER`, spark-defaults),
    or on `local[num_workers]` when none is named, and stops it after the run. With
    `local_mode=False` on a cluster, the processes are barrier tasks on the executors. The
    result is rank 0's: `fit_net` broadcasts it, so whichever rank TorchDistributor reads back
    (local mode reads the last writer's) carries it.

    Args:
        num_workers: `num_processes`.
        use_gpu: one GPU per process.
        local_mode: True: processes on the driver; False: one per Spark task.
        spark: the engine's Spark settings for a session this launcher starts.
    """

    name = "torch_distributor"

    def __init__(
        self,
        num_workers: int = 2,
        use_gpu: bool = False,
        local_mode: bool = True,
        spark: SparkSettings | None = None,
    ):
        self.num_workers = num_workers
        self.use_gpu = use_gpu
        self.local_mode = local_mode
        self.spark = spark

    @classmethod
    def from_config(
        cls, cfg: LauncherConfig, engine: EngineConfig | None = None
    ) -> TorchDistributorLauncher:
        """`launcher.*`, with the Spark session settings of `engine` (None: the defaults)."""
        return cls(
            num_workers=cfg.num_workers,
            use_gpu=cfg.use_gpu,
            local_mode=cfg.local_mode,
            spark=engine.spark if engine is not None else None,
        )

    def launch(self, job: NetFitJob) -> NetFitResult:
        from pyspark.ml.torch.distributor import TorchDistributor

        from churnops.data.engines.spark import SparkEngine

        options = self.spark.model_dump() if self.spark is not None else {}
        engine = SparkEngine(**options, default_master=f"local[{self.num_workers}]")
        try:
            distributor = TorchDistributor(
                num_processes=self.num_workers, local_mode=self.local_mode, use_gpu=self.use_gpu
            )
            result = distributor.run(_distributor_entry, replace(job, use_gpu=self.use_gpu))
        finally:
            engine.stop()  # only a session this launcher started
        if result is None:
            raise RuntimeError("TorchDistributor returned no result from rank 0")
        return result


def _distributor_entry(job: NetFitJob) -> NetFitResult:
    return fit_net(job, "torchrun")
