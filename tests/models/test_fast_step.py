"""compile_net: the compiled net trains, keeps its state-dict keys, and CUDA-only modes say so."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from churnops.models.fast_step import COMPILE_MODES, compile_net


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.SiLU(), nn.Linear(8, 1), nn.Flatten(0))


@pytest.mark.slow  # inductor compiles C++ with gcc: tens of seconds on a busy 2-core box
def test_compiled_net_matches_and_trains_on_cpu():
    from torch._dynamo.utils import counters

    plain, compiled = _net(), compile_net(_net(), "default", "cpu")
    assert list(compiled.state_dict()) == list(plain.state_dict())  # checkpoints load as before
    x, y = torch.randn(32, 4), torch.rand(32).round()
    counters.clear()
    torch.testing.assert_close(compiled(x), plain(x), rtol=1e-4, atol=1e-5)
    assert counters["stats"]["unique_graphs"] >= 1  # it really went through the compiler
    opt = torch.optim.SGD(compiled.parameters(), lr=0.5)
    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = nn.functional.binary_cross_entropy_with_logits(compiled(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_none_leaves_the_net_alone():
    net = _net()
    assert compile_net(net, "none", "cpu") is net
    assert "forward" not in vars(net)  # the class's forward, uncompiled


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("mode", ["reduce-overhead", "max-autotune"])
def test_cuda_graph_modes_are_refused_without_cuda(mode):
    with pytest.raises(ValueError, match=rf"compile mode='{mode}' captures CUDA graphs"):
        compile_net(_net(), mode, "cpu")


def test_unknown_mode_is_named():
    with pytest.raises(ValueError, match=r"compile mode='turbo': expected one of none, default"):
        compile_net(_net(), "turbo", "cpu")
    assert "reduce-overhead" in COMPILE_MODES


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_graph_step_trains_on_the_gpu():
    net = compile_net(_net().cuda(), "reduce-overhead", "cuda")
    opt = torch.optim.AdamW(net.parameters(), lr=1e-2, fused=True)
    x, y = torch.randn(256, 4, device="cuda"), torch.rand(256, device="cuda").round()
    for _ in range(4):  # warm-up, capture, replays
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = nn.functional.binary_cross_entropy_with_logits(net(x).float(), y)
        loss.backward()
        opt.step()
    assert torch.isfinite(loss).item()
