"""gpu-check off the GPU: it says so and does nothing; its figures are judged against targets."""

from __future__ import annotations

import pytest
import torch

from churnops.benchmarks import gpu_check


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is here: gpu-check would run")
def test_without_cuda_it_says_so_and_leaves_nothing_behind(tmp_path, capsys):
    work, results = tmp_path / "work", tmp_path / "results"
    argv = ["--workdir", str(work), "--results-dir", str(results), "--skip-scale"]
    assert gpu_check.main(argv) == 0
    assert "skipped: no CUDA GPU visible to torch" in capsys.readouterr().out
    assert not work.exists() and not results.exists()


def test_ddp_step_is_skipped_with_fewer_than_two_gpus():
    (step,) = [s for s in gpu_check._steps() if s[0] == "net bf16 ddp"]
    if torch.cuda.device_count() < 2:
        assert step[3].startswith("skipped: ") and "DDP needs one per rank" in step[3]
    else:
        assert step[3] is None


def _row(loader, batch, precision, rate, vs=None, options=""):
    return {"loader": loader, "mode": "train", "batch_size": batch, "precision": precision,
            "rows_per_s": rate, "vs_raw_loop": vs, "options": options}  # fmt: skip


def test_loader_figures_judge_the_net_at_262144_and_the_stream():
    rows = [
        _row("raw-loop", 262_144, "bf16", 145e6, 1.0),
        _row("lightning", 65_536, "bf16", 40e6, 0.6),  # no target at this batch
        _row("lightning", 262_144, "bf16", 132e6, 0.91),
        _row("lightning-compiled", 262_144, "bf16", 99e6, 0.95),  # rows/s short of 100 M
        _row("lightning", 262_144, "fp32", 90e6, 0.9),  # fp32: not a target row
        _row("arrow-stream", 65_536, "fp32", 7e6, 0.2, "workers=4 threads=8"),
        _row("arrow-stream", 65_536, "fp32", 21e6, 0.5, "workers=0 threads=8"),
    ]
    got = {r["step"]: r for r in gpu_check.loader_figures(rows, "H200")}
    assert got["lightning batch 65,536"]["status"] == "ok"
    assert got["lightning batch 262,144"]["status"] == "ok"
    assert "132.0 M rows/s, 0.91x the raw loop" in got["lightning batch 262,144"]["result"]
    assert got["lightning-compiled batch 262,144"]["status"] == "ok: below target"
    stream = got["arrow-stream batch 65,536 (workers=0 threads=8)"]  # the best of the two
    assert stream["status"] == "ok" and stream["result"].startswith("21.0 M rows/s")
    assert len(got) == 5
    # 72 M fit rows of the 100 M customers at the bf16 stream rate (none here: the best of all)
    epoch = got["100M epoch at arrow-stream's rate"]
    assert epoch["result"].startswith("3 s at 21.0 M rows/s") and epoch["status"] == "ok"


def test_epoch_figure_projects_a_small_run_and_reports_a_full_one():
    small = [{"stage": "train: the epoch (fit)", "customers": 2_000_000, "rows": 1_600_000,
              "seconds": 3.0, "rows_per_s": 2_000_000}]  # fmt: skip
    text, met = gpu_check.epoch_figure(small)
    assert text.startswith("100M-customer epoch 40 s, at the 2,000,000-customer run's rate")
    assert met
    full = [{**small[0], "customers": 100_000_000, "seconds": 75.0}]
    text, met = gpu_check.epoch_figure(full)
    assert text.startswith("100M-customer epoch 75 s, measured") and not met


def test_too_few_customers_for_the_scale_batch_are_refused_before_anything_runs(capsys):
    with pytest.raises(SystemExit):
        gpu_check.main(["--customers", "100000"])
    assert "--customers 100,000: the scale run's batch of 262,144 needs at least" in (
        capsys.readouterr().err
    )


def test_steps_are_valid_train_configs(tmp_path):
    """A typo in a step's overrides would only show on a GPU machine, where time is scarce."""
    from churnops.trainers.config import load_train_config

    steps = gpu_check._steps()
    assert {launcher for _, launcher, _, _ in steps} >= {"local", "ray", "in-process"}
    for _, _, overrides, _ in steps:
        cfg = load_train_config([f"workdir={tmp_path}", "trainer=gpu", *overrides])
        assert cfg.trainer.precision == "bf16-mixed"


def test_it_names_what_a_machine_lacks():
    assert gpu_check._missing("json") is None
    assert gpu_check._missing("json", "no_such_module_xyz") == (
        "skipped: no_such_module_xyz not installed here"
    )
