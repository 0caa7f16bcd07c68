"""pyspark's TorchDistributor: torchrun on the driver (local_mode) or inside Spark barrier tasks."""

from __future__ import annotations

from dataclasses import replace

from churnops.trainers.fit import NetFitJob, NetFitResult, fit_net


class TorchDistributorLauncher:
    """Runs `fit_net` through `pyspark.ml.torch.distributor.TorchDistributor`.

    Uses the active SparkSession (a cluster, Databricks) or starts a local one with a slot per
    worker. The result is rank 0's: `fit_net` broadcasts it, so whichever rank TorchDistributor
    reads back (local mode reads the last writer's) carries it.

    Args:
        num_workers: `num_processes`.
        use_gpu: one GPU per process.
        local_mode: True: processes on the driver; False: one per Spark task.
    """

    name = "torch_distributor"

    def __init__(self, num_workers: int = 2, use_gpu: bool = False, local_mode: bool = True):
        self.num_workers = num_workers
        self.use_gpu = use_gpu
        self.local_mode = local_mode

    def launch(self, job: NetFitJob) -> NetFitResult:
        from pyspark.ml.torch.distributor import TorchDistributor
        from pyspark.sql import SparkSession

        if SparkSession.getActiveSession() is None:
            from churnops.data.engines.spark import SparkEngine

            SparkEngine(master=f"local[{self.num_workers}]")
        distributor = TorchDistributor(
            num_processes=self.num_workers, local_mode=self.local_mode, use_gpu=self.use_gpu
        )
        result = distributor.run(_distributor_entry, replace(job, use_gpu=self.use_gpu))
        if result is None:
            raise RuntimeError("TorchDistributor returned no result from rank 0")
        return result


def _distributor_entry(job: NetFitJob) -> NetFitResult:
    return fit_net(job, "torchrun")
