"""The launcher protocol and the map from config names to launchers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from churnops.plugins import load_choice

if TYPE_CHECKING:
    from churnops.data.engines.config import EngineConfig
    from churnops.trainers.config import LauncherConfig
    from churnops.trainers.fit import NetFitJob, NetFitResult


# The launchers by `launcher.name`, imported only when chosen (pyspark and ray are optional).
LAUNCHERS = {
    "local": "churnops.trainers.launchers.local:LocalLauncher",
    "torch_distributor": "churnops.trainers.launchers.torch_distributor:TorchDistributorLauncher",
    "ray": "churnops.trainers.launchers.ray:RayLauncher",
}


class Launcher(Protocol):
    """Runs `churnops.trainers.fit.fit_net` on its workers and returns rank 0's result."""

    name: str
    num_workers: int

    @classmethod
    def from_config(cls, cfg: LauncherConfig, engine: EngineConfig | None) -> Launcher:
        """The launcher `cfg` describes; `engine` is the run's engine setting."""
        ...

    def launch(self, job: NetFitJob) -> NetFitResult: ...


def make_launcher(cfg: LauncherConfig, engine: EngineConfig | None = None) -> Launcher:
    """The launcher `cfg.name` names, built from the rest of `cfg`.

    `engine` is the run's engine setting: TorchDistributor takes its Spark session (the running
    one, else `engine.spark.master` and `engine.spark.conf`) from it.
    """
    launcher: type[Launcher] = load_choice(LAUNCHERS, cfg.name, field="launcher.name")
    return launcher.from_config(cfg, engine)
