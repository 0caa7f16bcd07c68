"""In-process training, or DDP over local processes started the way torchrun starts them."""

from __future__ import annotations

import os
import pickle
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from churnops.trainers.fit import NetFitJob, NetFitResult, fit_net

if TYPE_CHECKING:
    from churnops.data.engines.config import EngineConfig
    from churnops.trainers.config import LauncherConfig


class LocalLauncher:
    """One process runs the Lightning Trainer in-process; `num_workers` > 1 starts DDP ranks.

    Each rank is a fresh `python -m churnops.trainers.launchers.local` process with torchrun's
    variables (RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR, ...), so the caller's script is never
    re-imported (unlike multiprocessing's spawn) and the rank code is the same as under torchrun.

    Args:
        num_workers: processes (DDP ranks over gloo on CPU, NCCL on GPU).
        use_gpu: one GPU per rank instead of CPU.
    """

    name = "local"

    def __init__(self, num_workers: int = 1, use_gpu: bool = False):
        self.num_workers = num_workers
        self.use_gpu = use_gpu

    @classmethod
    def from_config(cls, cfg: LauncherConfig, engine: EngineConfig | None = None) -> LocalLauncher:
        """`launcher.num_workers` and `launcher.use_gpu`; the engine plays no part."""
        return cls(num_workers=cfg.num_workers, use_gpu=cfg.use_gpu)

    def launch(self, job: NetFitJob) -> NetFitResult:
        if self.num_workers == 1:
            if self.use_gpu:
                job = replace(job, trainer=job.trainer.model_copy(update={"accelerator": "gpu"}))
            return fit_net(job, "single")
        with tempfile.TemporaryDirectory(prefix="churnops-ddp-") as folder:
            job_file, out_file = Path(folder, "job.pkl"), Path(folder, "result.pkl")
            job_file.write_bytes(pickle.dumps(replace(job, use_gpu=self.use_gpu)))
            port = _free_port()
            procs = []
            for rank in range(self.num_workers):
                env = {
                    **os.environ,
                    "MASTER_ADDR": "127.0.0.1",
                    "MASTER_PORT": str(port),
                    "RANK": str(rank),
                    "LOCAL_RANK": str(rank),
                    "WORLD_SIZE": str(self.num_workers),
                    "LOCAL_WORLD_SIZE": str(self.num_workers),
                    "NODE_RANK": "0",
                    "GROUP_RANK": "0",
                }
                cmd = [sys.executable, "-m", __name__, str(job_file), str(out_file)]
                procs.append(subprocess.Popen(cmd, env=env))
            _wait(procs)
            if not out_file.exists():
                raise RuntimeError("DDP ranks finished without rank 0's result")
            return pickle.loads(out_file.read_bytes())


def _wait(procs: list[subprocess.Popen]) -> None:
    """Wait for every rank; if one fails, stop the others (they would wait on it forever)."""
    try:
        while True:
            codes = [p.poll() for p in procs]
            failed = [(r, c) for r, c in enumerate(codes) if c not in (None, 0)]
            if failed:
                rank, code = failed[0]
                raise RuntimeError(f"DDP rank {rank} exited with code {code}; see its output above")
            if all(c == 0 for c in codes):
                return
            time.sleep(0.2)
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_main(job_file: str, out_file: str) -> None:
    job = pickle.loads(Path(job_file).read_bytes())
    result = fit_net(job, "torchrun")
    if os.environ["RANK"] == "0":
        tmp = Path(f"{out_file}.tmp")
        tmp.write_bytes(pickle.dumps(result))
        tmp.replace(out_file)


if __name__ == "__main__":
    _rank_main(*sys.argv[1:3])
