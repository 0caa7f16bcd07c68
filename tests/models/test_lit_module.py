import lightning.pytorch as pl
import numpy as np
import torch

from churnops.models.lit_module import MONITOR, ChurnLitModule
from churnops.models.net import TabularChurnNet
from churnops.models.preprocessing import FeaturePreprocessor
from churnops.trainers.datamodule import InMemoryBatches


def test_learns_a_separable_problem_and_logs_split_metrics():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny net: more threads only contend on a shared CI box
    try:
        _learn_and_log()
    finally:
        torch.set_num_threads(threads)


def _learn_and_log():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 4)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64)
    pl.seed_everything(0, verbose=False)
    net = TabularChurnNet(FeaturePreprocessor.fit(x[:1600]), numeric_index=[0, 1, 2, 3])
    module = ChurnLitModule(net, lr=1e-2, pos_weight=2.0)
    trainer = pl.Trainer(
        max_epochs=3, accelerator="cpu", logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
    )  # fmt: skip
    train = InMemoryBatches(x[:1600], y[:1600], 128, shuffle=True, drop_last=True)
    val = InMemoryBatches(x[1600:], y[1600:], 512)
    trainer.fit(module, train, val)
    assert MONITOR == "val/auroc"
    assert len(module.history) == 3
    last = module.history[-1]
    assert {"train/loss", "train/auroc", "val/auroc", "val/pr_auc", "val/log_loss"} <= set(last)
    assert last["val/auroc"] > 0.95
    assert float(trainer.callback_metrics["val/auroc"]) == last["val/auroc"]
    trainer.test(module, InMemoryBatches(x[1600:], y[1600:], 512), verbose=False)
    assert float(trainer.callback_metrics["test/auroc"]) > 0.95
