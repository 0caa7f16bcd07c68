"""The LightningModule: owns the loss, optimiser, schedule and the `split/metric` logging.

Beside it, the checkpoint and early-stopping callbacks that wait out the schedule's warm-up.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch import nn
from torchmetrics import MeanMetric
from torchmetrics.classification import BinaryAUROC, BinaryAveragePrecision

from churnops.models.net import pool_member_logits

# The one name the checkpoint, early stopping, the tuner and the validation gate all read.
MONITOR = "val/auroc"
ONECYCLE_WARMUP = 0.3  # fraction of the steps the one-cycle schedule spends raising the lr


def warmup_epochs(scheduler: str, max_epochs: int) -> int:
    """Epochs spent in the schedule's warm-up: no checkpoint is kept or stop taken in them.

    Under one-cycle the lr climbs to its peak for the first 30% of the steps; a val/auroc
    that dips there is the schedule, not overfitting, and an epoch-0 checkpoint is barely
    trained (on CDNOW 1997-06-30/90 it cost 0.26 of test log loss).
    """
    if scheduler != "onecycle":
        return 0
    return min(math.ceil(ONECYCLE_WARMUP * max_epochs), max_epochs - 1)


class _AfterWarmup:
    """A callback mixin that sits out every epoch before `warmup_epochs`."""

    warmup_epochs: int

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.current_epoch >= self.warmup_epochs:
            super().on_validation_end(trainer, pl_module)  # type: ignore[misc]

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.current_epoch >= self.warmup_epochs:
            super().on_train_epoch_end(trainer, pl_module)  # type: ignore[misc]


class WarmupModelCheckpoint(_AfterWarmup, ModelCheckpoint):
    """`ModelCheckpoint` that considers no epoch before `warmup_epochs` have passed."""

    def __init__(self, *args: Any, warmup_epochs: int = 0, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.warmup_epochs = warmup_epochs


class WarmupEarlyStopping(_AfterWarmup, EarlyStopping):
    """`EarlyStopping` whose patience starts counting after `warmup_epochs`."""

    def __init__(self, *args: Any, warmup_epochs: int = 0, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.warmup_epochs = warmup_epochs


class ChurnLitModule(pl.LightningModule):
    """Trains a net that maps rows to logits with class-weighted BCE.

    Logs `train/loss`, `train/auroc` and, for val and test, `loss`, `auroc`, `pr_auc` and
    `log_loss` (unweighted, so it compares with the baselines'), once per epoch; `history` keeps
    one row of them per epoch for the tracker.

    Args:
        net: the plain `nn.Module` (e.g. `TabularChurnNet`).
        lr: peak learning rate of AdamW.
        weight_decay: AdamW weight decay.
        pos_weight: weight of the positive class in the training loss (None = 1).
        scheduler: "onecycle" (warm-up then anneal), "cosine" or "none".
        label_smoothing: training targets pulled towards 0.5 by this much (RealMLP uses 0.1
            for classification); the metrics and the validation loss read the true labels.

    A net with `member_logits(x) -> [B, k]` (an ensemble, e.g. TabM) is trained on the mean of
    its members' losses, each member on every row, as TabM trains; val and test read the
    pooled `net(x)`.
    """

    pos_weight: torch.Tensor

    def __init__(
        self,
        net: nn.Module,
        lr: float = 3e-3,
        weight_decay: float = 1e-4,
        pos_weight: float | None = None,
        scheduler: Literal["onecycle", "cosine", "none"] = "onecycle",
        label_smoothing: float = 0.0,
    ):
        super().__init__()
        self.net = net
        self.lr = lr
        self.weight_decay = weight_decay
        self.scheduler = scheduler
        if not 0 <= label_smoothing < 1:
            raise ValueError(f"label_smoothing: expected a value in [0, 1), got {label_smoothing}")
        self.label_smoothing = label_smoothing
        self.history: list[dict[str, float]] = []  # one row per epoch: {"epoch", "train/...", ...}
        self.epoch_values: dict[str, float] = {}
        self.register_buffer("pos_weight", torch.tensor(1.0 if pos_weight is None else pos_weight))
        # The training step must not wait on the GPU: argument validation (torch.unique) and
        # NaN checks read values back to the host, so the train metrics skip them, and they
        # are fed once per epoch from these buffers (a metric update costs as much host time
        # as a small step).
        self.train_outputs: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        self.metrics = nn.ModuleDict(
            {
                f"{split}_metrics": nn.ModuleDict(
                    {
                        "auroc": BinaryAUROC(validate_args=split != "train"),
                        "pr_auc": BinaryAveragePrecision(),
                        "log_loss": MeanMetric(),
                        "loss": MeanMetric(nan_strategy="disable" if split == "train" else "warn"),
                    }
                )
                for split in ("train", "val", "test")  # "train" alone clashes with .train()
            }
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def _step(self, batch: tuple[torch.Tensor, torch.Tensor], split: str) -> torch.Tensor:
        x, y = batch
        y = y.float()
        if split == "train":
            return self._train_step(x, y)
        logits = self.net(x).float()
        loss = F.binary_cross_entropy_with_logits(logits, y, pos_weight=self.pos_weight)
        probs = torch.sigmoid(logits.detach())
        metrics: Any = self.metrics[f"{split}_metrics"]
        metrics["auroc"].update(probs, y.long())
        metrics["pr_auc"].update(probs, y.long())
        metrics["log_loss"].update(F.binary_cross_entropy_with_logits(logits, y, reduction="none"))
        metrics["loss"].update(loss.detach())
        return loss

    def _train_step(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        member_logits = getattr(self.net, "member_logits", None)
        if member_logits is not None:
            members = member_logits(x).float()  # [B, k]: every member learns from every row
            logits = pool_member_logits(members.detach()) / self.net.temperature
        else:
            members = logits = self.net(x).float()
        target = (
            y
            if self.label_smoothing == 0
            else y * (1 - self.label_smoothing) + (self.label_smoothing / 2)
        )
        if members.ndim == 2:
            target = target[:, None].expand_as(members)
        loss = F.binary_cross_entropy_with_logits(members, target, pos_weight=self.pos_weight)
        # logits: the sigmoid runs once per epoch, in the flush
        self.train_outputs.append((logits.detach(), y, loss.detach()))
        # A progress-bar value is read back to the host when logged, stalling the GPU
        # queue, so the step loss is shown every `log_every_n_steps` steps.
        if self._log_this_step():
            self.log("train/loss_step", loss, prog_bar=True, logger=False)
        return loss

    def _flush_train_outputs(self) -> None:
        """Feed the epoch's buffered train predictions and step losses to the train metrics."""
        if not self.train_outputs:
            return
        logits, targets, losses = zip(*self.train_outputs, strict=True)
        self.train_outputs = []
        metrics: Any = self.metrics["train_metrics"]
        metrics["auroc"].update(torch.sigmoid(torch.cat(logits)), torch.cat(targets).long())
        metrics["loss"].update(torch.stack(losses))  # the mean of the step losses, as before

    def _log_this_step(self) -> bool:
        trainer = self._trainer  # None when the module is used outside a Trainer
        return trainer is None or trainer.global_step % max(trainer.log_every_n_steps, 1) == 0

    def _log_epoch(self, split: str) -> None:
        names = ["loss", "auroc"] if split == "train" else ["loss", "auroc", "pr_auc", "log_loss"]
        for name in names:
            metric = self.metrics[f"{split}_metrics"][name]  # type: ignore[index]
            # torchmetrics syncs across DDP ranks in compute(), so every rank logs the same value.
            value = metric.compute()
            metric.reset()
            self.log(f"{split}/{name}", value, prog_bar=name == "auroc", sync_dist=True)
            self.epoch_values[f"{split}/{name}"] = float(value)

    def training_step(self, batch, batch_idx):
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx):
        self._step(batch, "val")

    def test_step(self, batch, batch_idx):
        self._step(batch, "test")

    def on_train_epoch_end(self) -> None:
        self._flush_train_outputs()
        self._log_epoch("train")
        # Validation has run by now, so this row holds the epoch's train and val metrics.
        self.history.append({"epoch": self.current_epoch, **self.epoch_values})
        self.epoch_values = {}

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking:
            for metric in self.metrics["val_metrics"].values():  # type: ignore[operator]
                metric.reset()
            return
        self._log_epoch("val")

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test")

    def configure_optimizers(self):
        # Fused AdamW: one kernel per step instead of a dozen launched from Python.
        optimizer = torch.optim.AdamW(
            self.parameters(),
            lr=self.lr,
            weight_decay=self.weight_decay,
            fused=self.device.type == "cuda",
        )
        if self.scheduler == "none":
            return optimizer
        steps = int(self.trainer.estimated_stepping_batches)
        if self.scheduler == "onecycle":
            sched = torch.optim.lr_scheduler.OneCycleLR(
                optimizer, max_lr=self.lr, total_steps=steps
            )
        else:
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(steps, 1))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
