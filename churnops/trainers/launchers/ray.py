"""Ray Train: `TorchTrainer` with the Lightning integration (RayDDPStrategy, prepare_trainer)."""

from __future__ import annotations

import os
import pickle
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from churnops.trainers.fit import NetFitJob, NetFitResult, fit_net

RESULT_FILE = "net_fit_result.pkl"


class RayLauncher:
    """Runs `fit_net` on `num_workers` Ray Train workers; rank 0 reports its result.

    Connects to `address` (or the running Ray instance), else starts a local one.

    Args:
        num_workers: `ScalingConfig.num_workers`.
        use_gpu: `ScalingConfig.use_gpu`.
        address: a Ray cluster address; None: the current or a new local instance.
        cpus_per_worker: CPUs each worker reserves. None: Ray's 1, except with the `ray-data`
            loader, which gets 0.5: Ray Data's read tasks need free CPUs beside the workers,
            and on a small cluster whole-CPU workers leave none, so the run waits forever.
    """

    name = "ray"

    def __init__(
        self,
        num_workers: int = 2,
        use_gpu: bool = False,
        address: str | None = None,
        cpus_per_worker: float | None = None,
    ):
        self.num_workers = num_workers
        self.use_gpu = use_gpu
        self.address = address
        self.cpus_per_worker = cpus_per_worker

    def scaling_config(self, loader: str) -> Any:
        """The `ScalingConfig` for a run whose batches come from `loader`."""
        from ray.train import ScalingConfig

        # A GPU worker reserves no CPU by default, so only CPU workers need the ray-data cut.
        auto = 0.5 if loader == "ray-data" and not self.use_gpu else None
        cpus = self.cpus_per_worker or auto
        resources = None
        if cpus:
            resources = {"CPU": cpus, **({"GPU": 1} if self.use_gpu else {})}
        return ScalingConfig(
            num_workers=self.num_workers, use_gpu=self.use_gpu, resources_per_worker=resources
        )

    def launch(self, job: NetFitJob) -> NetFitResult:
        import ray
        from ray.train import RunConfig
        from ray.train.torch import TorchTrainer

        if not ray.is_initialized():
            os.environ.setdefault("RAY_AUTH_MODE", "disabled")
            ray.init(address=self.address, include_dashboard=False, log_to_driver=True)
        storage = Path(job.checkpoint_dir, "ray").resolve()
        trainer = TorchTrainer(
            train_loop_per_worker=_ray_entry,
            train_loop_config={"job": replace(job, use_gpu=self.use_gpu)},
            scaling_config=self.scaling_config(job.trainer.loader),
            run_config=RunConfig(storage_path=str(storage), name="fit"),
        )
        outcome = trainer.fit()
        if outcome.checkpoint is None:
            raise RuntimeError(f"Ray Train run ended without rank 0's result: {outcome.error}")
        with outcome.checkpoint.as_directory() as folder:
            return pickle.loads(Path(folder, RESULT_FILE).read_bytes())


def _ray_entry(config: dict) -> None:
    import ray.train
    from ray.train import Checkpoint

    result = fit_net(config["job"], "ray")
    # Every worker reports (it is a barrier); only rank 0 attaches the result as a checkpoint.
    if ray.train.get_context().get_world_rank() == 0:
        with tempfile.TemporaryDirectory() as folder:
            Path(folder, RESULT_FILE).write_bytes(pickle.dumps(result))
            ray.train.report(
                {"val/auroc": result.best_score}, checkpoint=Checkpoint.from_directory(folder)
            )
    else:
        ray.train.report({"val/auroc": result.best_score})
