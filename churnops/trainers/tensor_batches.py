"""`TensorBatches`: the net's batches over the fit split's arrays held as tensors (GPU-resident
when training on a GPU), batches by index; what `trainer.loader=in-memory` trains on.

Each epoch is one permutation of row indices and one gather per batch: no per-row Python, no
collate. Ranks read disjoint, equally long shards so DDP steps stay in lockstep.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import torch


class TensorBatches:
    """An iterable of (x float32 [B, F], y float32 [B]) batches over tensors held in memory.

    Args:
        x: raw features [N, F].
        y: labels [N] (0/1).
        batch_size: rows per batch (the last batch may be shorter).
        shuffle: a new permutation each epoch (seeded by `seed` and the epoch number).
        seed: base seed of the permutations.
        rank: this process's rank; it reads rows rank, rank + world_size, ...
        world_size: number of ranks; every rank gets N // world_size rows.
        device: where the tensors live ("cuda" keeps the whole set on the GPU).
        drop_last: drop a short last batch (training: batch norm needs more than one row).
    """

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        batch_size: int,
        *,
        shuffle: bool = False,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        device: str | torch.device = "cpu",
        drop_last: bool = False,
    ):
        if len(x) != len(y):
            raise ValueError(f"x has {len(x)} rows but y has {len(y)}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank={rank}: expected 0 <= rank < world_size={world_size}")
        if len(x) < world_size:
            raise ValueError(f"{len(x)} rows cannot be shared by world_size={world_size} ranks")
        self.device = torch.device(device)
        # torch.tensor copies: the arrays may be read-only views (Ray's object store).
        self.x = torch.tensor(np.asarray(x, dtype=np.float32)).to(self.device)
        self.y = torch.tensor(np.asarray(y, dtype=np.float32)).to(self.device)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.rows_per_rank = len(x) // world_size  # equal shards: DDP ranks must step together
        self.drop_last = drop_last and self.rows_per_rank >= batch_size
        self.epoch = 0

    def __len__(self) -> int:
        if self.drop_last:
            return self.rows_per_rank // self.batch_size
        return math.ceil(self.rows_per_rank / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.x)
        if self.shuffle:
            gen = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(n, generator=gen)
        else:
            order = torch.arange(n)
        self.epoch += 1
        mine = order[self.rank :: self.world_size][: self.rows_per_rank].to(self.device)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            index = mine[start : start + self.batch_size]
            yield self.x[index], self.y[index]
