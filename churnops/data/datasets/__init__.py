"""Datasets that ship with churnops as package data (see each folder's SOURCES.md)."""

from datetime import date
from functools import cache
from importlib.resources import files
from pathlib import Path

from churnops.config import CONFIG_DIR, ConfigError, load_yaml

# The one place CDNOW's cutoff is written: every default that means "the cutoff" reads it here.
CDNOW_DATA_CONFIG = CONFIG_DIR / "data" / "cdnow.yaml"


def dataset_path(name: str) -> Path:
    """Path of a bundled dataset folder, e.g. `dataset_path("cdnow")`."""
    path = Path(str(files(__package__) / name))
    if not path.is_dir():
        raise FileNotFoundError(f"bundled dataset {name!r} not found at {path}")
    return path


@cache
def cdnow_cutoff() -> date:
    """CDNOW's protocol cutoff: `as_of` of the packaged data config (configs/data/cdnow.yaml).

    Features use orders up to this day and churn is judged over the horizon after it; every
    config, task and benchmark that defaults to "the cutoff" takes this one value.
    """
    value = load_yaml(CDNOW_DATA_CONFIG).get("as_of")
    try:
        return value if isinstance(value, date) else date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(
            f"{CDNOW_DATA_CONFIG}: as_of={value!r}: expected a day as YYYY-MM-DD"
        ) from None
