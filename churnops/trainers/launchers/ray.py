"""Ray Train: `TorchTrainer` with the Lightning integration (RayDDPStrategy, prepare_trainer)."""

from __future__ import annotations

import os
import pickle
import tempfile
from dataclasses import replace
from pathlib import Path

from churnops.trainers.fit import NetFitJob, NetFitResult, fit_net

RESULT_FILE = "net_fit_result.pkl"


class RayLauncher:
    """Runs `fit_net` on `num_workers` Ray Train workers; rank 0 reports its result.

    Connects to `address` (or the running Ray instance), else starts a local one.

    Args:
        num_workers: `ScalingConfig.num_workers`.
        use_gpu: `ScalingConfig.use_gpu`.
        address: a Ray cluster address; None: the current or a new local instance.
    """

    name = "ray"

    def __init__(self, num_workers: int = 2, use_gpu: bool = False, address: str | None = None):
        self.num_workers = num_workers
        self.use_gpu = use_gpu
        self.address = address

    def launch(self, job: NetFitJob) -> NetFitResult:
        import ray
        from ray.train import RunConfig, ScalingConfig
        from ray.train.torch import TorchTrainer

        if not ray.is_initialized():
            os.environ.setdefault("RAY_AUTH_MODE", "disabled")
            ray.init(address=self.address, include_dashboard=False, log_to_driver=True)
        storage = Path(job.checkpoint_dir, "ray").resolve()
        trainer = TorchTrainer(
            train_loop_per_worker=_ray_entry,
            train_loop_config={"job": replace(job, use_gpu=self.use_gpu)},
            scaling_config=ScalingConfig(num_workers=self.num_workers, use_gpu=self.use_gpu),
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
