"""Loaders benchmark: rows/s of each loader feeding training steps of a small MLP.

Beside them, a plain per-row `DataLoader` over a `TensorDataset` (the usual starting point)
and a raw PyTorch loop over resident tensors (the ceiling), all at one batch size, on a
synthetic training set of a few million rows (18 float32 features, a 0/1 label) in Parquet.
Each loader is measured twice: `train` (forward + backward + optimiser step per batch) and
`load` (batches only), each for a fixed time. The `lightning` row trains the same MLP wrapped in
the project's `ChurnLitModule` with Lightning's `Trainer` on the in-memory loader: what the
framework costs against the raw loop; `lightning-compiled` does the same with the MLP through
`churnops.models.fast_step.compile_net`. Petastorm runs in `.venv-petastorm` as a
subprocess (this module with `--measure petastorm`) on the same file.

`--batch-size` and `--precision` take lists (`65536,262144`, `fp32,bf16`): the first pair runs
every loader, later pairs the ones whose speed they change (`SCALE_KINDS`). `--arrow-workers`
takes a list too: one arrow-stream row per value (0 reads on threads in the training process).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

FEATURES = [f"f{i:02d}" for i in range(18)]
LABEL = "churn"
LOADER_CASES = [
    "per-row-dataloader",
    "raw-loop",
    "lightning",
    "lightning-compiled",
    "in-memory",
    "arrow-stream",
    "petastorm",
    "ray-data",
]
TITLE = "Training-data loaders: rows/s feeding training steps"
MODES = ["train", "load"]
PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16}
# Measured at every (batch size, precision); the rest only at the first pair.
SCALE_KINDS = ("raw-loop", "lightning", "lightning-compiled", "in-memory", "arrow-stream")
COLUMNS = [
    "device",
    "loader",
    "options",
    "precision",
    "mode",
    "batch_size",
    "rows_per_s",
    "vs_per_row",
    "vs_raw_loop",
    "setup_s",
    "first_batch_s",
]
ROOT = Path(__file__).resolve().parents[2]
PETASTORM_PY = ROOT / ".venv-petastorm" / "bin" / "python"
ROW_GROUP_ROWS = 131_072


def write_training_set(path: Path, rows: int, seed: int = 0) -> Path:
    """A synthetic training set: 18 float32 features (a few heavy-tailed) and a 0/1 label."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, len(FEATURES)), dtype=np.float32)
    x[:, :4] = np.exp(x[:, :4])  # counts and money are heavy-tailed
    logit = x[:, 4] - 0.5 * x[:, 5] + 0.2 * np.log1p(x[:, 0])
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int32)
    table = pa.table({**{c: x[:, i] for i, c in enumerate(FEATURES)}, LABEL: y})
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, row_group_size=ROW_GROUP_ROWS, compression="snappy")
    return path


def make_mlp(device: str) -> tuple[nn.Module, torch.optim.Optimizer, nn.Module]:
    """The measured model: an MLP of 18 inputs -> 256 -> 256 -> 1 (AdamW, BCE with logits)."""
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Linear(len(FEATURES), 256),
        nn.ReLU(),
        nn.Linear(256, 256),
        nn.ReLU(),
        nn.Linear(256, 1),
    ).to(device)
    return net, torch.optim.AdamW(net.parameters(), lr=1e-3), nn.BCEWithLogitsLoss()


def measure(
    open_epoch: Callable[[], Iterable[tuple[torch.Tensor, torch.Tensor]]],
    device: str,
    mode: str,
    seconds: float,
    precision: str = "fp32",
) -> tuple[float, float]:
    """Steady rows/s over `seconds` after the first batch, and the first batch's latency.

    Epochs restart as needed, so their start-up counts in the steady rate; only the very
    first batch (pool, process and pipeline start) is timed apart.
    """
    net, opt, loss_fn = make_mlp(device)
    cuda = torch.device(device).type == "cuda"
    warm = torch.zeros(8, len(FEATURES), device=device)
    loss_fn(net(warm).squeeze(1), torch.zeros(8, device=device)).backward()  # kernels, allocator
    opt.zero_grad(set_to_none=True)
    if cuda:
        torch.cuda.synchronize()
    rows, start = 0, time.perf_counter()
    first: float | None = None
    done = False
    while not done:
        for x, y in open_epoch():
            x = x.to(device, non_blocking=True)
            y = y.to(device, non_blocking=True)
            if mode == "train":
                opt.zero_grad(set_to_none=True)
                with _autocast(device, precision):
                    logits = net(x).squeeze(1).float()
                loss_fn(logits, y).backward()
                opt.step()
            if first is None:
                if cuda:
                    torch.cuda.synchronize()
                first = time.perf_counter()
                continue
            rows += len(y)
            if time.perf_counter() - first >= seconds:
                done = True
                break
    if cuda:
        torch.cuda.synchronize()
    assert first is not None
    return rows / (time.perf_counter() - first), first - start


def _autocast(device: str, precision: str) -> Any:
    """bf16 autocast for the forward (as Lightning's `bf16-mixed`), or nothing for fp32."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=PRECISIONS[precision])


def measure_lightning(
    path: Path,
    batch_size: int,
    device: str,
    seconds: float,
    precision: str = "fp32",
    compile_mode: str = "none",
) -> tuple[float, float]:
    """Steady rows/s of `Trainer.fit` on `ChurnLitModule(make_mlp)` over the in-memory loader.

    With `compile_mode`, the MLP goes through `compile_net` first; its compilation happens in
    the first steps, before the timed window (which starts after the first batch).
    """
    import lightning.pytorch as pl

    from churnops.data.loaders import make_loader
    from churnops.models.lit_module import ChurnLitModule

    class RateMeter(pl.Callback):
        """Times `seconds` of steps after the first, then stops the fit."""

        def __init__(self) -> None:
            self.rows, self.first, self.rate = 0, 0.0, 0.0
            self.start = time.perf_counter()

        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
            if not self.first:
                _sync(device)
                self.first = time.perf_counter()
                return
            self.rows += len(batch[1])
            if time.perf_counter() - self.first >= seconds:
                _sync(device)
                self.rate = self.rows / (time.perf_counter() - self.first)
                trainer.should_stop = True

    from churnops.models.fast_step import compile_net

    net, _, _ = make_mlp(device)
    net = compile_net(nn.Sequential(net, nn.Flatten(0)), compile_mode, device)
    module = ChurnLitModule(net, lr=1e-3, scheduler="none")
    data = make_loader("in-memory", path, FEATURES, LABEL, batch_size, device=device)
    meter = RateMeter()
    cuda = torch.device(device).type == "cuda"
    trainer = pl.Trainer(
        accelerator="gpu" if cuda else "cpu",
        devices=1,
        max_epochs=10_000,
        precision="bf16-mixed" if precision == "bf16" else "32-true",
        limit_val_batches=0,
        enable_progress_bar=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        logger=False,
        callbacks=[meter],
    )
    trainer.fit(module, train_dataloaders=data)
    return meter.rate, meter.first - meter.start


def _sync(device: str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def open_loader(
    kind: str, path: Path, batch_size: int, device: str, args: Any, setting: int = 0
) -> Callable:
    """Build loader `kind` (the setup) and return a function that opens one epoch.

    `setting` is arrow-stream's `num_workers` or ray-data's `prefetch_batches`.
    """
    from churnops.data.loaders import make_loader

    if kind in ("per-row-dataloader", "raw-loop"):
        data: Any = make_loader("in-memory", path, FEATURES, LABEL, batch_size, device="cpu")
        x, y = data.x, data.y  # the table as resident tensors
        if kind == "per-row-dataloader":
            from torch.utils.data import DataLoader, TensorDataset

            dataset = TensorDataset(x, y)
            cuda = torch.device(device).type == "cuda"
            return lambda: DataLoader(dataset, batch_size=batch_size, shuffle=True, pin_memory=cuda)
        x, y = x.to(device), y.to(device)

        def raw_epoch() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
            for s in range(0, len(y), batch_size):
                yield x[s : s + batch_size], y[s : s + batch_size]

        return raw_epoch
    options: dict[str, Any] = {}
    if kind == "arrow-stream":
        options["num_workers"] = setting
        options["reader_threads"] = args.arrow_threads
    if kind == "ray-data":
        options["prefetch_batches"] = setting
        import ray

        if not ray.is_initialized():
            ray.init(include_dashboard=False, log_to_driver=False)
        ray.data.DataContext.get_current().enable_progress_bars = False
    loader = make_loader(kind, path, FEATURES, LABEL, batch_size, device=device, **options)
    return lambda: loader


def run_one(
    kind: str,
    path: Path,
    batch_size: int,
    device: str,
    args: Any,
    precision: str = "fp32",
    setting: int = 0,
    modes: list[str] | None = None,
) -> list[dict]:
    """Set up loader `kind` once and measure it in each of `modes` (default `args.modes`)."""
    start = time.perf_counter()
    lightning = kind.startswith("lightning")  # Lightning builds its loader inside the measurement
    open_epoch = None if lightning else open_loader(kind, path, batch_size, device, args, setting)
    setup_s = round(time.perf_counter() - start, 2)
    options = ""
    if kind == "arrow-stream":
        options = f"workers={setting} threads={args.arrow_threads}"
    if kind == "ray-data":
        options = f"prefetch={setting}"
    compile_mode = args.compile_mode if kind == "lightning-compiled" else "none"
    if compile_mode != "none":
        options = f"compile={compile_mode}"
    rows = []
    for mode in ["train"] if lightning else modes or args.modes:
        if open_epoch is None:
            rate, first_s = measure_lightning(
                path, batch_size, device, args.seconds, precision, compile_mode
            )
        else:
            rate, first_s = measure(open_epoch, device, mode, args.seconds, precision)
        rows.append(
            {
                "device": device,
                "loader": kind,
                "options": options,
                "precision": precision if mode == "train" else "-",
                "mode": mode,
                "batch_size": batch_size,
                "rows_per_s": round(rate),
                "setup_s": setup_s,
                "first_batch_s": round(first_s, 2),
            }
        )
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return rows


def run_petastorm(path: Path, batch_size: int, device: str, args: Any) -> list[dict]:
    """Measure the petastorm kind in its own environment, as a subprocess."""
    if not PETASTORM_PY.exists():
        print(
            "petastorm: .venv-petastorm missing (scripts/petastorm-env builds it)", file=sys.stderr
        )
        return []
    cmd = [str(PETASTORM_PY), "-m", "churnops.benchmarks.loaders", "--measure", "petastorm"]
    cmd += ["--data", str(path), "--batch-size", str(batch_size), "--device", device]
    cmd += ["--seconds", str(args.seconds), "--modes", ",".join(args.modes)]
    env = {**os.environ, "PYTHONWARNINGS": "ignore::FutureWarning"}
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, check=False)
    if proc.returncode:
        print(f"petastorm failed:\n{proc.stderr[-3000:]}", file=sys.stderr)
        return []
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _int_list(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def parse_args(argv: list[str]) -> argparse.Namespace:
    cuda = torch.cuda.is_available()
    p = argparse.ArgumentParser(prog="scripts/benchmark loaders", description=__doc__)
    p.add_argument("--rows", type=int, default=4_000_000, help="training-set rows")
    p.add_argument(
        "--batch-size",
        type=_int_list,
        default=[65_536] if cuda else [8192],
        help="rows per batch; a list (65536,262144) measures each",
    )
    p.add_argument("--precision", default="fp32", help="fp32,bf16: the training step's precision")
    p.add_argument(
        "--pairs",
        help="batch:precision pairs instead of every combination (65536:fp32,262144:bf16)",
    )
    p.add_argument("--device", default="cuda" if cuda else "cpu")
    p.add_argument("--seconds", type=float, default=4.0 if cuda else 8.0, help="per measurement")
    p.add_argument("--loaders", default=",".join(LOADER_CASES), help="comma-separated kinds")
    p.add_argument("--modes", default=",".join(MODES), help="train,load")
    p.add_argument(
        "--arrow-workers",
        type=_int_list,
        default=[0],
        help="arrow-stream num_workers; a list (0,4) measures each (0: threads in-process)",
    )
    p.add_argument(
        "--ray-prefetch",
        type=_int_list,
        default=[1],
        help="ray-data prefetch_batches; a list (1,4) measures each",
    )
    threads = max(1, min(8, (os.cpu_count() or 1) // 2))
    p.add_argument("--arrow-threads", type=int, default=threads, help="arrow-stream reader_threads")
    p.add_argument(
        "--compile-mode",
        default="reduce-overhead" if cuda else "default",
        help="lightning-compiled: compile_net's mode (reduce-overhead: CUDA graphs)",
    )
    p.add_argument("--data", type=Path, help="reuse this Parquet instead of generating one")
    p.add_argument("--results-dir", type=Path, help="write NAME.json/.md here (default docs/)")
    p.add_argument("--name", default="loaders", help="results file name (gpu-check: loaders_gpu)")
    p.add_argument("--measure", help=argparse.SUPPRESS)  # one kind, JSON on stdout (subprocess)
    args = p.parse_args(argv)
    args.loaders = [k.strip() for k in args.loaders.split(",") if k.strip()]
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    args.precision = [m.strip() for m in args.precision.split(",") if m.strip()]
    for k in args.loaders:
        if k not in LOADER_CASES:
            p.error(f"--loaders: {k!r} is not one of {', '.join(LOADER_CASES)}")
    for m in args.modes:
        if m not in MODES:
            p.error(f"--modes: {m!r} is not one of {', '.join(MODES)}")
    for m in args.precision:
        if m not in PRECISIONS:
            p.error(f"--precision: {m!r} is not one of {', '.join(PRECISIONS)}")
    if not args.batch_size or min(args.batch_size) < 1:
        p.error(f"--batch-size: {args.batch_size!r}: expected positive integers")
    args.pairs = _pairs(p, args)
    return args


def _pairs(p: argparse.ArgumentParser, args: argparse.Namespace) -> list[tuple[int, str]]:
    if not args.pairs:
        return [(b, m) for b in args.batch_size for m in args.precision]
    pairs = []
    for text in args.pairs.split(","):
        batch, _, precision = text.strip().partition(":")
        if not batch.isdigit() or int(batch) < 1 or precision not in PRECISIONS:
            p.error(f"--pairs: {text!r}: expected BATCH:PRECISION, e.g. 262144:bf16")
        pairs.append((int(batch), precision))
    return pairs


def run_all(path: Path, args: argparse.Namespace) -> list[dict]:
    """Every loader at the first (batch size, precision); `SCALE_KINDS` at the others too."""
    rows: list[dict] = []
    for i, (batch_size, precision) in enumerate(args.pairs):
        # Later pairs: training only (the loaders' own speed was measured at the first), and
        # arrow-stream with the first num_workers only.
        modes = args.modes if not i else [m for m in args.modes if m == "train"]
        kinds = args.loaders if not i else [k for k in args.loaders if k in SCALE_KINDS]
        for kind in kinds if modes else []:
            if kind == "petastorm":
                rows += run_petastorm(path, batch_size, args.device, args)
            elif kind in ("arrow-stream", "ray-data"):
                # One row per num_workers (arrow-stream) or prefetch_batches (ray-data).
                values = args.arrow_workers if kind == "arrow-stream" else args.ray_prefetch
                for setting in values[: 1 if i else None]:
                    rows += run_one(
                        kind, path, batch_size, args.device, args, precision, setting, modes
                    )
            else:
                rows += run_one(kind, path, batch_size, args.device, args, precision, modes=modes)
    for r in rows:  # petastorm's subprocess rows
        r.setdefault("options", "")
        r.setdefault("precision", "fp32" if r["mode"] == "train" else "-")
    return rows


def compare(rows: list[dict]) -> None:
    """vs_raw_loop against the raw loop at the same batch size, precision and mode; vs_per_row
    against the per-row DataLoader in the same mode (measured at the first pair only)."""
    base = {r["mode"]: r["rows_per_s"] for r in rows if r["loader"] == "per-row-dataloader"}
    raw = {
        (r["batch_size"], r["precision"], r["mode"]): r["rows_per_s"]
        for r in rows
        if r["loader"] == "raw-loop"
    }
    for r in rows:
        if base.get(r["mode"]):
            r["vs_per_row"] = round(r["rows_per_s"] / base[r["mode"]], 1)
        ref = raw.get((r["batch_size"], r["precision"], r["mode"]))
        if ref:
            r["vs_raw_loop"] = round(r["rows_per_s"] / ref, 2)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.measure:  # the subprocess side: one kind, its rows as JSON
        rows = run_one(args.measure, args.data, args.batch_size[0], args.device, args)
        print(json.dumps(rows))
        return 0
    # Imported here: the petastorm subprocess (above) runs in its own, older environment.
    from churnops.benchmarks.report import load_note, write_results

    torch.set_num_threads(os.cpu_count() or 1)
    torch.set_float32_matmul_precision("high")  # TF32 on tensor cores, for every row alike
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="churnops-loaders-") as tmp:
        path = args.data
        if path is None:
            start = time.perf_counter()
            path = write_training_set(Path(tmp) / "train.parquet", args.rows)
            print(
                f"wrote {args.rows:,} rows in {time.perf_counter() - start:.1f}s", file=sys.stderr
            )
        rows = run_all(path, args)
    compare(rows)
    notes = [
        f"{args.rows:,} rows x {len(FEATURES)} float32 features, Parquet row groups of "
        f"{ROW_GROUP_ROWS:,}; MLP {len(FEATURES)}-256-256-1, AdamW. rows_per_s: steady rate over "
        f"{args.seconds:g}s after the first batch (later epochs' start-up included); setup_s: "
        "building the loader; first_batch_s: from iter() to the first batch.",
        "mode train: a forward + backward + optimiser step per batch; mode load: batches only. "
        "precision bf16: the forward under bf16 autocast (Lightning: bf16-mixed), fp32 weights; "
        "fp32 uses TF32 matmuls on tensor cores.",
        "lightning: the same MLP in ChurnLitModule (class-weighted BCE, train metrics per epoch) "
        "fitted by Lightning's Trainer on the in-memory loader (shuffled, device-resident); "
        "its AdamW is fused on CUDA, the other rows' is AdamW's default. lightning-compiled: "
        f"the MLP through compile_net(mode={args.compile_mode!r}) first. vs_raw_loop: rows/s "
        "over the raw loop's at the same batch size, precision and mode.",
        f"arrow-stream with reader_threads={args.arrow_threads} and num_workers in "
        f"{args.arrow_workers} (0: read on threads in the training process); per-row-dataloader "
        "is DataLoader(TensorDataset, shuffle=True); raw-loop slices resident tensors "
        f"(no shuffle); ray-data with prefetch_batches in {args.ray_prefetch}.",
        f"Loaders other than {', '.join(SCALE_KINDS)} run at the first batch size and precision "
        "only; at the later ones, mode train only, arrow-stream with the first num_workers.",
        "petastorm runs in .venv-petastorm (petastorm 0.12.1, pyarrow 14) as a subprocess.",
        load_note(load_before),
    ]
    write_results(args.name, rows, COLUMNS, TITLE, notes, results_dir=args.results_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
