"""The one train function for the net, run unchanged under every launcher.

`fit_net(job, runtime)` runs on every rank. `runtime` only says how this process joins the
group: "single" (one process), "torchrun" (rank variables in the environment, as torchrun,
TorchDistributor and the local DDP launcher set them) or "ray" (inside a Ray Train worker).
Every rank returns rank 0's result (broadcast), so a launcher may take any rank's return value.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch

from churnops.data.loaders.in_memory import InMemoryLoader
from churnops.models.fast_step import compile_net
from churnops.models.net import TabularChurnNet
from churnops.models.preprocessing import FeaturePreprocessor
from churnops.trainers.config import MLPConfig, TrainerConfig

Runtime = Literal["single", "torchrun", "ray"]
Report = Callable[[dict[str, float]], None]  # e.g. Ray Tune's report, fed after each epoch
LABEL = "churn"  # the label column of the split files written for Parquet loaders
# The Parquet loaders that can give every DDP rank the same batches (petastorm cannot: it lives
# in its own environment and shards by whole row groups).
EVEN_LOADERS = ("arrow-stream", "ray-data")


@dataclass
class NetFitJob:
    """Everything a worker needs to train the net; pickled to each rank."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    feature_columns: list[str]
    categorical: dict[str, int]
    preprocessor: FeaturePreprocessor  # fitted on the train split only
    model: MLPConfig
    trainer: TrainerConfig
    seed: int
    checkpoint_dir: str
    pos_weight: float | None = None
    use_gpu: bool = False
    train_path: str | None = None  # the splits as Parquet, for loaders other than in-memory
    val_path: str | None = None


@dataclass
class NetFitResult:
    """Rank 0's outcome: the best weights (by val/auroc), per-epoch metrics and where it ran."""

    state_dict: dict[str, torch.Tensor]
    history: list[dict[str, float]]
    best_score: float | None
    best_checkpoint: str
    epochs: int
    seconds: float
    world_size: int
    device: str
    extra: dict[str, Any] = field(default_factory=dict)


def build_net(job: NetFitJob) -> TabularChurnNet:
    """The net for a job's columns and model config (weights from the current torch seed)."""
    cat_index = [job.feature_columns.index(c) for c in job.categorical]
    num_index = [i for i in range(len(job.feature_columns)) if i not in cat_index]
    return TabularChurnNet(
        preprocessor=job.preprocessor,
        numeric_index=num_index,
        categorical_index=cat_index,
        cardinalities=list(job.categorical.values()),
        embedding_dim=job.model.embedding_dim,
        hidden_sizes=job.model.hidden_sizes,
        dropout=job.model.dropout,
        norm=job.model.norm,
        numeric_embedding=job.model.numeric_embedding,
        numeric_embedding_dim=job.model.numeric_embedding_dim,
        n_frequencies=job.model.n_frequencies,
        frequency_scale=job.model.frequency_scale,
        ensemble_size=job.model.ensemble_size,
        additive=job.model.additive,
    )


def fit_net(
    job: NetFitJob, runtime: Runtime = "single", report: Report | None = None
) -> NetFitResult:
    """Train the net with Lightning on this process's shard; return rank 0's result.

    Early stopping and checkpointing both follow `val/auroc`; the best checkpoint's weights
    are what is returned. `train` and every tuning trial fit through here.

    Args:
        job: the data, configs and checkpoint folder.
        runtime: how this process joins the group (see the module docstring).
        report: called on rank 0 after each epoch with `val/auroc` and `epoch` (a tuner's hook
            for early stopping of poor trials).
    """
    import lightning.pytorch as pl

    from churnops.models.lit_module import (
        MONITOR,
        ChurnLitModule,
        WarmupEarlyStopping,
        WarmupModelCheckpoint,
        warmup_epochs,
    )

    start = time.perf_counter()
    if not job.trainer.progress_bar:  # non-interactive (benchmarks, tests): warnings only
        logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    pl.seed_everything(job.seed, workers=True, verbose=False)
    local_world = _local_world_size(runtime)
    # One intra-op thread per process by default: at this model size more threads mostly wait
    # on each other (and on other ranks sharing the cores).
    torch.set_num_threads(job.trainer.threads or 1)

    module = ChurnLitModule(
        build_net(job),
        lr=job.model.lr,
        weight_decay=job.model.weight_decay,
        pos_weight=job.pos_weight,
        scheduler=job.model.scheduler,
        label_smoothing=job.model.label_smoothing,
    )
    # Neither keeps a checkpoint nor stops inside the lr warm-up (see `warmup_epochs`).
    warmup = warmup_epochs(job.model.scheduler, job.trainer.max_epochs)
    checkpoint = WarmupModelCheckpoint(
        dirpath=job.checkpoint_dir, monitor=MONITOR, mode="max", save_top_k=1,
        filename="best-{epoch}", warmup_epochs=warmup,
    )  # fmt: skip
    callbacks: list[Any] = [checkpoint]
    if report is not None:
        callbacks.append(_report_each_epoch(report))
    if job.trainer.early_stopping_patience:
        callbacks.append(
            WarmupEarlyStopping(
                monitor=MONITOR,
                mode="max",
                patience=job.trainer.early_stopping_patience,
                warmup_epochs=warmup,
            )
        )
    trainer = pl.Trainer(
        max_epochs=job.trainer.max_epochs,
        precision=job.trainer.precision,
        limit_train_batches=job.trainer.limit_train_batches,
        limit_val_batches=job.trainer.limit_val_batches,
        num_sanity_val_steps=0,
        enable_progress_bar=job.trainer.progress_bar,
        enable_model_summary=False,
        logger=False,  # the driver logs to MLflow from the returned history
        callbacks=callbacks,
        default_root_dir=job.checkpoint_dir,
        **_trainer_placement(job, runtime, local_world),
    )
    if runtime == "ray":
        from ray.train.lightning import prepare_trainer

        trainer = prepare_trainer(trainer)

    device = trainer.strategy.root_device
    compile_net(module.net, job.trainer.compile, device)
    rank, world = trainer.global_rank, trainer.world_size
    train_batches, val_batches = _loaders(job, rank, world, device)
    trainer.fit(module, train_dataloaders=train_batches, val_dataloaders=val_batches)

    result: NetFitResult | None = None
    if trainer.is_global_zero:
        best = checkpoint.best_model_path
        if best:
            state = torch.load(best, map_location="cpu", weights_only=True)["state_dict"]
            weights = {k.removeprefix("net."): v for k, v in state.items() if k.startswith("net.")}
        else:  # no validation ran (limit_val_batches=0): the last weights
            weights = {k: v.detach().cpu() for k, v in module.net.state_dict().items()}
        score = checkpoint.best_model_score
        result = NetFitResult(
            state_dict=weights,
            history=module.history,
            best_score=float(score) if score is not None else None,
            best_checkpoint=best,
            epochs=trainer.current_epoch,
            seconds=time.perf_counter() - start,
            world_size=world,
            device=str(device),
        )
    if world > 1:
        # TorchDistributor's local mode keeps whichever rank's return it reads last: hand every
        # rank rank 0's result so the launcher's answer never depends on that.
        result = trainer.strategy.broadcast(result, src=0)
    assert result is not None  # rank 0 always sets it, and broadcast hands it to every rank
    return result


def _report_each_epoch(report: Report) -> Any:
    """A callback handing `val/auroc` and the epoch number to `report` after each epoch."""
    import lightning.pytorch as pl

    from churnops.models.lit_module import MONITOR

    class ReportEachEpoch(pl.Callback):
        def on_train_epoch_end(self, trainer: Any, lit: Any) -> None:
            score = trainer.callback_metrics.get(MONITOR)
            if score is not None and trainer.is_global_zero:
                report({MONITOR: float(score), "epoch": float(trainer.current_epoch + 1)})

    return ReportEachEpoch()


def _local_world_size(runtime: Runtime) -> int:
    if runtime == "torchrun":
        return int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    if runtime == "ray":
        import ray.train

        return ray.train.get_context().get_local_world_size()
    return 1


def _trainer_placement(job: NetFitJob, runtime: Runtime, local_world: int) -> dict[str, Any]:
    """Accelerator, devices, nodes and strategy for this runtime."""
    accelerator = job.trainer.accelerator
    if runtime != "single":
        accelerator = "gpu" if job.use_gpu else "cpu"
    if runtime == "single":
        return {"accelerator": accelerator, "devices": 1}
    if runtime == "torchrun":
        world = int(os.environ["WORLD_SIZE"])
        return {
            "accelerator": accelerator,
            "devices": local_world,
            "num_nodes": world // local_world,
            "strategy": "ddp",
        }
    from ray.train.lightning import RayDDPStrategy, RayLightningEnvironment

    return {
        "accelerator": accelerator,
        "devices": "auto",
        "strategy": RayDDPStrategy(),
        "plugins": [RayLightningEnvironment()],
    }


def check_loader_for_ranks(kind: str, world: int) -> None:
    """Refuse a loader that cannot keep `world` DDP ranks in lockstep."""
    if world > 1 and kind != "in-memory" and kind not in EVEN_LOADERS:
        raise ValueError(
            f"trainer.loader={kind!r} runs on one process in train(cfg); with "
            f"launcher.num_workers > 1 use one of in-memory, {', '.join(EVEN_LOADERS)}"
        )


def _loaders(job: NetFitJob, rank: int, world: int, device: torch.device) -> tuple[Any, Any]:
    """Train and val batches for this rank, from `churnops.data.loaders`: for `in-memory` over
    the split's arrays already in memory, for the other kinds over the split's Parquet files."""
    bs = job.trainer.batch_size
    kind = job.trainer.loader
    if kind == "in-memory":
        # Every rank takes rows // world rows (DDP steps in lockstep); training drops the short
        # last batch (batch norm needs more than one row) unless that would leave none.
        drop_last = len(job.x_train) // world >= bs
        train: Any = InMemoryLoader.from_arrays(
            job.x_train, job.y_train, bs, shuffle=True, seed=job.seed, rank=rank,
            world_size=world, device=str(device), drop_last=drop_last, even_batches=True,
        )  # fmt: skip
        val: Any = InMemoryLoader.from_arrays(
            job.x_val, job.y_val, max(bs, 4096), shuffle=False, rank=rank, world_size=world,
            device=str(device), even_batches=True,
        )  # fmt: skip
        return train, val
    check_loader_for_ranks(kind, world)
    from churnops.data.loaders import make_loader

    if job.train_path is None or job.val_path is None:
        raise ValueError(f"trainer.loader={kind!r} needs the split written as Parquet")
    loaders = []
    for path, training, size in ((job.train_path, True, bs), (job.val_path, False, max(bs, 4096))):
        # DDP steps in lockstep, validation too (every forward syncs the module's buffers):
        # every rank must yield the same batches, so with even_batches each takes the smallest
        # share. Training also drops the short last batch (batch norm needs more than one row).
        options = {"even_batches": world > 1, "drop_last": training} if kind in EVEN_LOADERS else {}
        loaders.append(
            make_loader(
                kind,
                path,
                job.feature_columns,
                LABEL,
                size,
                shuffle=training,
                seed=job.seed,
                rank=rank,
                world_size=world,
                device=str(device),
                **options,
            )
        )
    train, val = loaders
    return train, val


def scratch_dir(root: str | os.PathLike) -> str:
    """A fresh checkpoint folder under `root` for one fit."""
    os.makedirs(root, exist_ok=True)
    return tempfile.mkdtemp(prefix="fit-", dir=root)
