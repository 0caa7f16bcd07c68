"""A compiled net for the training step: `torch.compile`, optionally with CUDA graphs.

At large batches on a GPU the step is short enough that Python's per-kernel launch cost shows;
compiling fuses the MLP's elementwise work, and CUDA graphs (`reduce-overhead`) replay the
step's kernels with one launch. The LightningModule calls the net as before: `compile_net`
compiles its `forward` in place, so state-dict keys, checkpoints and served weights are unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

# What `torch.compile(mode=...)` takes, plus "none"; the ones that capture CUDA graphs need CUDA.
COMPILE_MODES = ("none", "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
CUDA_GRAPH_MODES = ("reduce-overhead", "max-autotune")


def compile_net(net: nn.Module, mode: str, device: str | torch.device) -> nn.Module:
    """Compile `net` in place for `device` and return it (`mode="none"` leaves it as it is).

    Shapes are static (`dynamic=False`): a training epoch has one batch size, and at most one
    short last batch, which compiles once more.

    Args:
        net: the plain `nn.Module`.
        mode: one of `COMPILE_MODES`.
        device: where it trains; CUDA-graph modes on a non-CUDA device are refused, since
            torch would quietly run them without graphs and the figures would mislead.

    Raises:
        ValueError: an unknown mode, or a CUDA-graph mode without CUDA.
    """
    if mode not in COMPILE_MODES:
        raise ValueError(f"compile mode={mode!r}: expected one of {', '.join(COMPILE_MODES)}")
    dev = torch.device(device)
    if mode in CUDA_GRAPH_MODES and (dev.type != "cuda" or not torch.cuda.is_available()):
        raise ValueError(
            f"compile mode={mode!r} captures CUDA graphs: it needs a CUDA device, got "
            f"device={str(dev)!r} (torch.cuda.is_available() is {torch.cuda.is_available()}); "
            "use 'default' or 'max-autotune-no-cudagraphs' off the GPU"
        )
    if mode != "none":
        # The bound forward, not `nn.Module.compile()`: on torch 2.13 that one left the calls
        # uncompiled (tests/models/test_fast_step.py counts the captured graphs).
        compiled = torch.compile(net.forward, mode=mode, dynamic=False)
        forward = _graph_safe(compiled) if mode in CUDA_GRAPH_MODES else compiled
        net.forward = forward  # type: ignore[method-assign]
    return net


def _graph_safe(compiled: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """A CUDA-graph forward whose output outlives the next replay.

    A graph's outputs live in its static memory and are overwritten by the next replay; the
    LightningModule keeps each step's logits until the epoch ends, so they are copied out
    (a `[B]` copy, tiny beside the step). Each call starts a new step for the graph trees.
    """

    def forward(*args: Any, **kwargs: Any) -> torch.Tensor:
        torch.compiler.cudagraph_mark_step_begin()
        return compiled(*args, **kwargs).clone()

    return forward
