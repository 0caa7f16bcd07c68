"""The README and docs/ name modules and functions by path (`churnops/monitoring/...`,
`churnops.scoring.table.score_table`); after a move, a stale name would send a reader nowhere.
Every such name must be a file, a module, or a name defined in its module."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "churnops"
# Top-level names under churnops/: a path or dotted name starting with anything else is a table
# or a working folder (`.churnops/demo`, `churnops.cdnow.customer_features`), not code.
TOP = {p.stem for p in PACKAGE.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}
PATH = re.compile(r"(?<![./\w])churnops/[A-Za-z0-9_/]+(?:\.py)?")
DOTTED = re.compile(r"(?<![./\w])churnops(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
# A path from inside the package, in backticks: `monitoring/refresh/run.py`, `data/loaders/`.
SHORT_PATH = re.compile(r"`((?:[A-Za-z_]\w*/)+[A-Za-z_]\w*(?:\.py)?/?)`")


def _pages() -> list[Path]:
    return [
        ROOT / "README.md",
        *sorted(p for p in (ROOT / "docs").rglob("*.md") if "results" not in p.parts),
    ]


def _module_file(parts: list[str]) -> Path | None:
    as_file = ROOT.joinpath(*parts).with_suffix(".py")
    as_package = ROOT.joinpath(*parts, "__init__.py")
    return as_file if as_file.exists() else as_package if as_package.exists() else None


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 1, -1):
        source = _module_file(parts[:cut])
        if source is not None:
            rest = parts[cut:]
            return (
                not rest or re.search(rf"\b{re.escape(rest[0])}\b", source.read_text()) is not None
            )
    return False


def _stale(text: str) -> list[str]:
    stale = []
    for match in PATH.finditer(text):
        path = match.group(0).rstrip("/")
        if path.split("/")[1].removesuffix(".py") in TOP and not (ROOT / path).exists():
            stale.append(path)
    for match in SHORT_PATH.finditer(text):
        path = match.group(1).rstrip("/")
        if path.split("/")[0] in TOP and not (PACKAGE / path).exists():
            stale.append(path)
    for match in DOTTED.finditer(text):
        dotted = match.group(0).rstrip(".")
        if dotted.split(".")[1] in TOP and not _resolves(dotted):
            stale.append(dotted)
    return stale


def test_the_check_sees_a_stale_name():
    assert _stale("see churnops/monitoring/nowhere.py and churnops.plugins.no_such_name") == [
        "churnops/monitoring/nowhere.py",
        "churnops.plugins.no_such_name",
    ]
    assert (
        _stale(
            "churnops.plugins.load_choice, churnops/plugins.py, .churnops/demo, churnops.cdnow.x"
        )
        == []
    )


def test_docs_name_real_modules():
    stale = {str(page.relative_to(ROOT)): _stale(page.read_text()) for page in _pages()}
    assert not {page: names for page, names in stale.items() if names}
