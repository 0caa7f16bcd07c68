"""Ray Train: `TorchTrainer` with the Lightning integration (RayDDPStrategy, prepare_trainer)."""

from __future__ import annotations

import pickle
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from churnops.trainers.fit import NetFitJob, NetFitResult, fit_net
from churnops.trainers.launchers.ray_cluster import connect_ray, storage_uri

if TYPE_CHECKING:
    from churnops.data.engines.config import EngineConfig
    from churnops.trainers.config import LauncherConfig

RESULT_FILE = "net_fit_result.pkl"


class RayLauncher:
    """Runs `fit_net` on `num_workers` Ray Train workers; rank 0 reports its result.

    Joins the cluster at `address` (else `$RAY_ADDRESS`, else the running or a new local Ray
    instance) without resource arguments.

    Args:
        num_workers: `ScalingConfig.num_workers`.
        use_gpu: `ScalingConfig.use_gpu`.
        address: a Ray cluster address (`host:6379`, `ray://host:10001`); None: `$RAY_ADDRESS`,
            else the current or a new local instance.
        storage_path: where results and checkpoints go, a folder or URI every node sees;
            None: `<checkpoint_dir>/ray` (one machine only).
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
        storage_path: str | None = None,
    ):
        self.num_workers = num_workers
        self.use_gpu = use_gpu
        self.address = address
        self.cpus_per_worker = cpus_per_worker
        self.storage_path = storage_path

    @classmethod
    def from_config(cls, cfg: LauncherConfig, engine: EngineConfig | None = None) -> RayLauncher:
        """`launcher.*`; the Ray cluster is `launcher.ray_address`, not the engine's."""
        return cls(
            num_workers=cfg.num_workers,
            use_gpu=cfg.use_gpu,
            address=cfg.ray_address,
            cpus_per_worker=cfg.cpus_per_worker,
            storage_path=cfg.ray_storage_path,
        )

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
        from ray.train import RunConfig
        from ray.train.torch import TorchTrainer

        # Ray stays connected after the run (the caller's process may go on using it).
        connect_ray(self.address, "launcher.ray_address", log_to_driver=True)
        storage = storage_uri(self.storage_path, Path(job.checkpoint_dir, "ray"))
        trainer = TorchTrainer(
            train_loop_per_worker=_ray_entry,
            train_loop_config={"job": replace(job, use_gpu=self.use_gpu)},
            scaling_config=self.scaling_config(job.trainer.loader),
            run_config=RunConfig(storage_path=storage, name="fit"),
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
