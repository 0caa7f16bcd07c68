"""The launcher protocol and the map from config names to launchers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from churnops.data.engines.config import EngineConfig
    from churnops.trainers.config import LauncherConfig
    from churnops.trainers.fit import NetFitJob, NetFitResult


class Launcher(Protocol):
    """Runs `churnops.trainers.fit.fit_net` on its workers and returns rank 0's result."""

    name: str
    num_workers: int

    def launch(self, job: NetFitJob) -> NetFitResult: ...


def make_launcher(cfg: LauncherConfig, engine: EngineConfig | None = None) -> Launcher:
    """The launcher `cfg.name` names, built from the rest of `cfg`.

    `engine` is the run's engine setting: TorchDistributor takes its Spark session (the running
    one, else `engine.spark.master` and `engine.spark.conf`) from it.
    """
    if cfg.name == "local":
        from churnops.trainers.launchers.local import LocalLauncher

        return LocalLauncher(num_workers=cfg.num_workers, use_gpu=cfg.use_gpu)
    if cfg.name == "torch_distributor":
        from churnops.trainers.launchers.torch_distributor import TorchDistributorLauncher

        return TorchDistributorLauncher(
            num_workers=cfg.num_workers,
            use_gpu=cfg.use_gpu,
            local_mode=cfg.local_mode,
            spark=engine.spark if engine is not None else None,
        )
    if cfg.name == "ray":
        from churnops.trainers.launchers.ray import RayLauncher

        return RayLauncher(
            num_workers=cfg.num_workers,
            use_gpu=cfg.use_gpu,
            address=cfg.ray_address,
            cpus_per_worker=cfg.cpus_per_worker,
            storage_path=cfg.ray_storage_path,
        )
    raise ValueError(
        f"launcher.name={cfg.name!r}: expected one of 'local', 'torch_distributor', 'ray'"
    )
