"""Write a benchmark's rows as a printed table, `docs/results/NAME.json` and `.md`."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import platform
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from churnops.data.storage import write_bytes_atomic

RESULTS_DIR = Path(__file__).resolve().parents[2] / "docs" / "results"


def machine() -> str:
    """A short description of this machine: CPU model, cores, memory, GPU if any."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    desc = f"{cpu}, {os.cpu_count()} cores, {mem_gib:.0f} GiB"
    try:
        import torch

        if torch.cuda.is_available():
            desc += f", {torch.cuda.get_device_name(0)}"
    except ImportError:
        pass
    return desc


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def markdown_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    head = "| " + " | ".join(columns) + " |"
    sep = "|" + "|".join("---" for _ in columns) + "|"
    body = ["| " + " | ".join(_fmt(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join([head, sep, *body])


@contextlib.contextmanager
def results_lock(name: str, results_dir: Path | None = None) -> Iterator[None]:
    """Hold NAME's results for one read-and-rewrite (`kept_rows` then `write_results`).

    Two `--append` runs sharing a results folder would otherwise each rewrite the page from
    what they read before the other wrote, dropping the other's newest row. An advisory lock
    on a file beside the page (`flock`: released when the process ends, however it ends).
    """
    out = Path(results_dir or RESULTS_DIR)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / f".{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def kept_rows(
    name: str, rows: list[dict[str, Any]], key: tuple[str, ...], results_dir: Path | None = None
) -> list[dict[str, Any]]:
    """The rows of the earlier NAME.json whose `key` fields this run did not measure, with
    their own machine, date and load (a page appended to says where each row was measured)."""
    path = Path(results_dir or RESULTS_DIR) / f"{name}.json"
    if not path.exists():
        return []
    try:
        earlier = json.loads(path.read_text())
    except ValueError as exc:
        raise ValueError(f"--append: {path} is not JSON ({exc}); fix or remove it") from None
    for i, row in enumerate(earlier if isinstance(earlier, list) else [None]):
        missing = [k for k in key if not isinstance(row, dict) or k not in row]
        if missing:
            raise ValueError(
                f"--append: {path} row {i} lacks {', '.join(missing)}: expected a list of "
                f"rows with {', '.join(key)}; fix or remove the file"
            )
    ran = {tuple(r[k] for k in key) for r in rows}
    return [r for r in earlier if tuple(r[k] for k in key) not in ran]


def load_note(before: float) -> str:
    """A results note: the 1-minute load average before the run (`before`) and after it."""
    cores = os.cpu_count() or 1
    busy = before > cores  # after the run, the load is the run's own
    return (
        f"1-minute load average {before:.1f} before the run, {os.getloadavg()[0]:.1f} after "
        f"({cores} cores)"
        + (": above the core count, other work shared the machine." if busy else ".")
    )


def write_results(
    name: str,
    rows: list[dict[str, Any]],
    columns: list[str],
    title: str,
    notes: list[str] = (),  # type: ignore[assignment]
    results_dir: Path | None = None,
) -> Path:
    """Print the table and write NAME.json (rows + machine + date) and NAME.md; return the .md."""
    out = Path(results_dir or RESULTS_DIR)
    out.mkdir(parents=True, exist_ok=True)
    load_1m, load_5m, _ = os.getloadavg()  # what else the machine was doing while this ran
    stamp = {
        "machine": machine(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load_1m": round(load_1m, 2),
        "load_5m": round(load_5m, 2),
    }
    json_rows = [{**stamp, **r} for r in rows]  # a kept row keeps its own stamp
    # Whole files only: a reader never sees half of one.
    text = json.dumps(json_rows, indent=2, default=str) + "\n"
    write_bytes_atomic(out / f"{name}.json", text.encode())
    table = markdown_table(rows, columns)
    where = (
        f"Machine: {stamp['machine']}. Date: {stamp['date']}. Load average when written: "
        f"{load_1m:.1f} (1 min), {load_5m:.1f} (5 min) on {os.cpu_count()} cores."
    )
    kept = [r for r in json_rows if r["date"] != stamp["date"]]
    if kept:  # rows kept from earlier runs (--append), by machine
        runs = "; ".join(
            f"{m}, {len(dates)} rows written {dates[0]} to {dates[-1]}"
            for m in dict.fromkeys(r["machine"] for r in kept)
            for dates in [sorted(r["date"] for r in kept if r["machine"] == m)]
        )
        where += (
            f" Rows kept from earlier runs (each row's machine and date are in {name}.json): "
            f"{runs}."
        )
    md = [f"# {title}", "", where, "", table]
    if notes:
        md += ["", *[f"- {n}" for n in notes]]
    write_bytes_atomic(out / f"{name}.md", ("\n".join(md) + "\n").encode())
    print(table)
    for n in notes:
        print(f"  {n}")
    print(f"\nwrote {out / (name + '.json')} and {out / (name + '.md')}")
    return out / f"{name}.md"
