"""Datasets that ship with churnops as package data (see each folder's SOURCES.md)."""

from importlib.resources import files
from pathlib import Path


def dataset_path(name: str) -> Path:
    """Path of a bundled dataset folder, e.g. `dataset_path("cdnow")`."""
    path = Path(str(files(__package__) / name))
    if not path.is_dir():
        raise FileNotFoundError(f"bundled dataset {name!r} not found at {path}")
    return path
