import lightning.pytorch as pl
import numpy as np
import torch

from churnops.data.loaders.in_memory import InMemoryLoader
from churnops.models.lit_module import MONITOR, ChurnLitModule
from churnops.models.net import TabularChurnNet
from churnops.models.preprocessing import FeaturePreprocessor


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
    train = InMemoryLoader.from_arrays(x[:1600], y[:1600], 128, shuffle=True, drop_last=True)
    val = InMemoryLoader.from_arrays(x[1600:], y[1600:], 512, shuffle=False)
    trainer.fit(module, train, val)
    assert MONITOR == "val/auroc"
    assert len(module.history) == 3
    last = module.history[-1]
    assert {"train/loss", "train/auroc", "val/auroc", "val/pr_auc", "val/log_loss"} <= set(last)
    assert last["val/auroc"] > 0.95
    assert float(trainer.callback_metrics["val/auroc"]) == last["val/auroc"]
    trainer.test(
        module, InMemoryLoader.from_arrays(x[1600:], y[1600:], 512, shuffle=False), verbose=False
    )
    assert float(trainer.callback_metrics["test/auroc"]) > 0.95


def test_warmup_epochs_follow_the_one_cycle_schedule():
    from churnops.models.lit_module import warmup_epochs

    assert warmup_epochs("onecycle", 30) == 9  # 30% of the steps climb to the peak lr
    assert warmup_epochs("onecycle", 2) == 1
    assert warmup_epochs("onecycle", 1) == 0  # one epoch: it is the only candidate
    assert warmup_epochs("cosine", 30) == warmup_epochs("none", 30) == 0


def test_no_checkpoint_kept_and_no_stop_taken_inside_the_warmup(tmp_path):
    """With a frozen net val/auroc never improves: without the warm-up rule epoch 0 would be
    kept and training would stop after epoch 1."""
    from churnops.models.lit_module import WarmupEarlyStopping, WarmupModelCheckpoint

    rng = np.random.default_rng(0)
    x = rng.normal(size=(512, 2)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    pl.seed_everything(0, verbose=False)
    net = TabularChurnNet(FeaturePreprocessor.fit(x), numeric_index=[0, 1])
    module = ChurnLitModule(net, lr=0.0, scheduler="none")  # frozen: every epoch scores alike
    checkpoint = WarmupModelCheckpoint(
        dirpath=tmp_path, monitor=MONITOR, mode="max", filename="best-{epoch}", warmup_epochs=3
    )
    stopping = WarmupEarlyStopping(monitor=MONITOR, mode="max", patience=1, warmup_epochs=3)
    trainer = pl.Trainer(
        max_epochs=8, accelerator="cpu", logger=False, callbacks=[checkpoint, stopping],
        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
    )  # fmt: skip
    trainer.fit(
        module,
        InMemoryLoader.from_arrays(x, y, 128, shuffle=True, drop_last=True),
        InMemoryLoader.from_arrays(x, y, 512, shuffle=False),
    )
    assert checkpoint.best_model_path.endswith("best-epoch=3.ckpt")
    assert trainer.current_epoch == 5  # checked from epoch 3, stopped after epoch 4


def test_each_member_of_an_ensemble_learns_from_every_row():
    """The train loss is the mean of the k members' losses, not the pooled prediction's."""
    import torch.nn.functional as F

    rng = np.random.default_rng(0)
    x = torch.as_tensor(rng.normal(size=(64, 2)).astype(np.float32))
    y = torch.as_tensor((rng.random(64) < 0.5).astype(np.int64))
    torch.manual_seed(0)
    net = TabularChurnNet(FeaturePreprocessor.fit(x.numpy()), [0, 1], dropout=0.0, ensemble_size=4)
    module = ChurnLitModule(net, label_smoothing=0.1)
    loss = module._train_step(x, y.float())
    members = net.member_logits(x)
    target = (y.float() * 0.9 + 0.05)[:, None].expand_as(members)
    assert torch.allclose(loss, F.binary_cross_entropy_with_logits(members, target))
    loss.backward()
    assert all(p.grad is not None for p in net.mlp.parameters())  # every member's adapters
    logits, _, _ = module.train_outputs[-1]
    assert torch.allclose(logits, net(x).detach())  # the pooled logit feeds the train metrics


def test_label_smoothing_outside_zero_one_is_refused():
    import pytest

    net = TabularChurnNet(FeaturePreprocessor.fit(np.ones((4, 1))), [0])
    with pytest.raises(ValueError, match="label_smoothing"):
        ChurnLitModule(net, label_smoothing=1.0)
