"""Cleaned orders written once per source: a fingerprint of the source and its cleaning names
the clean file, so generation, features build, training-set build and replay link to the same
file instead of each cleaning the orders again (about half of each step at 10M customers)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import fields
from pathlib import Path

from churnops.data import storage
from churnops.data.sources.config import SourceConfig
from churnops.data.sources.validation import RejectReport

# The code that decides what a clean file holds: its text is part of the key, so a change to
# the cleaning never reuses files cleaned by the older code.
CLEANING_MODULES = ("config.py", "readers.py", "validation.py", "sorted_orders.py", "synthetic.py")
CACHE_ENV = "CHURNOPS_ORDERS_CACHE"  # the folder of clean orders; "off" cleans every time
DEFAULT_CACHE = ".churnops/cache/orders"
HASHED_BYTES = 16 << 20  # sources up to this size are hashed by content, larger by size and mtime


def cache_dir() -> Path | None:
    """The clean-orders folder ($CHURNOPS_ORDERS_CACHE, default .churnops/cache/orders), or
    None when the variable is `off`."""
    value = os.environ.get(CACHE_ENV, DEFAULT_CACHE)
    return None if value.strip().lower() in ("off", "none", "") else Path(value)


def source_fingerprint(cfg: SourceConfig) -> str:
    """A key for what cleaning `cfg` writes: the config, the cleaning code and the source
    files' names, sizes and modification times (contents too, for small sources)."""
    digest = hashlib.sha256(f"{cfg.model_dump_json()}\n".encode())
    for name in CLEANING_MODULES:
        digest.update(Path(__file__).with_name(name).read_bytes())
    if cfg.path and not storage.is_local(cfg.path):  # an object store: names, sizes, mtimes
        digest.update(storage.fingerprint_files(cfg.path).encode())
    elif cfg.path:
        root = Path(cfg.path)
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        stats = [(f, f.stat()) for f in files if f.exists()]
        small = sum(s.st_size for _, s in stats) <= HASHED_BYTES
        for f, s in stats:
            digest.update(f"{f.resolve()}\t{s.st_size}\t{s.st_mtime_ns}\n".encode())
            if small:
                digest.update(f.read_bytes())
    return digest.hexdigest()[:32]


def fingerprint_path(out_path: Path) -> Path:
    return out_path.with_name(f".{out_path.name}.source")


def report_path(out_path: Path) -> Path:
    return out_path.with_name(out_path.stem + ".report.json")


def reuse_clean_orders(key: str, out_path: Path) -> RejectReport | None:
    """The report of clean orders already at `out_path` or in the cache for `key` (linked to
    `out_path`); None when they must be cleaned."""
    if _current(out_path, key):
        return _read_report(report_path(out_path))
    folder = cache_dir()
    cached = folder / f"{key}.parquet" if folder else None
    if cached is None or not _current(cached, key):
        return None
    report = _read_report(report_path(cached))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    rejects = cached.with_name(f"{key}.rejects.parquet")
    if report.rejects_path and rejects.exists():
        target = out_path.with_name(out_path.stem + ".rejects.parquet")
        _link(rejects, target)
        report.rejects_path = str(target)
    _link(cached, out_path)
    report_path(out_path).write_text(report.to_json())
    fingerprint_path(out_path).write_text(key)
    return report


def remember_clean_orders(key: str, out_path: Path, report: RejectReport) -> None:
    """Mark `out_path` as cleaned from `key`'s source, and link it into the cache."""
    fingerprint_path(out_path).write_text(key)
    folder = cache_dir()
    if folder is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    cached = folder / f"{key}.parquet"
    if report.rejects_path and Path(report.rejects_path).exists():
        _link(Path(report.rejects_path), folder / f"{key}.rejects.parquet")
    _link(out_path, cached)
    report_path(cached).write_text(report.to_json())
    fingerprint_path(cached).write_text(key)  # last: the entry counts only once complete


def forget(out_path: Path) -> None:
    """`out_path` no longer holds clean orders of a known source (it is being rewritten)."""
    fingerprint_path(out_path).unlink(missing_ok=True)


def _current(path: Path, key: str) -> bool:
    marker = fingerprint_path(path)
    return (
        path.exists()
        and report_path(path).exists()
        and marker.exists()
        and marker.read_text().strip() == key
    )


def _read_report(path: Path) -> RejectReport:
    data = json.loads(path.read_text())
    names = {f.name for f in fields(RejectReport)}
    return RejectReport(**{k: v for k, v in data.items() if k in names})


def _link(src: Path, dst: Path) -> None:
    """`dst` becomes `src`'s file: a hard link (no copy) where the file system allows one."""
    if dst.exists() and src.exists() and os.path.samefile(src, dst):
        return
    tmp = dst.with_name(f".{dst.name}.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    try:
        try:
            os.link(src, tmp)
        except OSError:  # another file system, or links not allowed: copy
            shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
